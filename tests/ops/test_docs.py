from pathlib import Path

import npukernel  # noqa: F401
from npukernel.ops.__main__ import markdown


def test_operator_table_in_docs_is_current():
    path = Path(__file__).resolve().parents[2] / "docs" / "OPS.md"
    assert path.read_text() == markdown(), "regenerate with: python -m npukernel.ops > docs/OPS.md"
