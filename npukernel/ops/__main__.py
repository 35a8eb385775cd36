"""Print the operator table (markdown) generated from the registry: ``python -m npukernel.ops``."""

from __future__ import annotations

from npukernel.ops.opdef import table


def markdown() -> str:
    """The registry as a markdown table, one row per OpDef."""
    rows = table()
    lines = [
        "# Operators",
        "",
        "Generated from the operator registry by `python -m npukernel.ops > docs/OPS.md`;",
        "`tests/ops/test_docs.py` fails when this file is out of date.",
        "",
        f"{len(rows)} operators. *unit* is the part of an Ascend AI core the cost model charges.",
        "",
        "| operator | group | unit | differentiable | what it does |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['name']}` | {r['group']} | {r['unit']} | {'yes' if r['differentiable'] else '—'} | {r['doc']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import npukernel  # noqa: F401  (registers every operator)

    print(markdown(), end="")
