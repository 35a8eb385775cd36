"""Readable tables of the device counters: what ``%npu`` shows.

:class:`UsageReport` wraps one :func:`npukernel.notebook.usage.npu_usage` snapshot and
renders it as an HTML table in a notebook and as plain text in a terminal or a log.

Example:
    >>> from npukernel.notebook.report import UsageReport
    >>> report = UsageReport.now(sections=("devices",))
    >>> "npu:0" in report.text()
    True
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from npukernel.device.memory import format_bytes
from npukernel.notebook.usage import npu_usage

#: Sections in the order ``%npu`` shows them.
SECTIONS: tuple[str, ...] = ("devices", "memory", "ops")

_Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _mem(nbytes: int | None) -> str:
    return "unlimited" if nbytes is None else format_bytes(nbytes)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f}"


class UsageReport:
    """A snapshot of every device's counters, shown as tables.

    Args:
        npu: The ``npu`` field of a usage reply (:func:`~npukernel.notebook.usage.npu_usage`).
        sections: Which of :data:`SECTIONS` to show.

    Example:
        >>> UsageReport.now().sections
        ('devices', 'memory', 'ops')
    """

    def __init__(self, npu: dict[str, Any], sections: Sequence[str] = SECTIONS) -> None:
        self.npu = npu
        self.sections = tuple(sections)

    @classmethod
    def now(cls, sections: Sequence[str] = SECTIONS, top: int = 10) -> UsageReport:
        """Take a snapshot of the counters now.

        Example:
            >>> UsageReport.now(top=3).npu["default"]
            'npu:0'
        """
        return cls(npu_usage({"top": top}), sections)

    # -- tables ---------------------------------------------------------------------------

    def tables(self) -> list[_Table]:
        """Return the report as ``(title, header, rows)`` tables of strings."""
        found: list[_Table] = []
        if "devices" in self.sections:
            found.append(self._devices())
        if "memory" in self.sections:
            found.append(self._memory())
        if "ops" in self.sections:
            found.append(self._ops())
        return found

    def _devices(self) -> _Table:
        default = self.npu["default"]
        rows = []
        for name, u in self.npu["devices"].items():
            mark = "*" if name == default else ""
            rows.append([
                f"{name}{mark}", u["profile"],
                f"{_mem(u['memory']['used'])} / {_mem(u['memory']['total'])}",
                f"{u['launches']:,}", f"{u['utilization'] * 100:.0f}%",
                f"{u['npu_utilization'] * 100:.1f}%",
                _ms(u["busy_cpu_s"]), _ms(u["busy_npu_s"]),
            ])  # fmt: skip
        header = ["device", "chip", "memory used / total", "launches", "util (CPU)",
                  "util (NPU est)", "busy CPU ms", "busy NPU ms (est)"]  # fmt: skip
        return ("Devices (* = default)", header, rows)

    def _memory(self) -> _Table:
        rows = []
        for name, u in self.npu["devices"].items():
            m = u["memory"]
            pct = "" if not m["total"] else f"{100 * m['used'] / m['total']:.2f}%"
            rows.append([name, _mem(m["used"]), _mem(m["peak"]), _mem(m["total"]), pct,
                         f"{m['live_buffers']:,}"])  # fmt: skip
        header = ["device", "used", "peak", "total", "used %", "live buffers"]
        return ("Memory", header, rows)

    def _ops(self) -> _Table:
        default = self.npu["default"]
        u = self.npu["devices"][default]
        busy = u["busy_cpu_s"] or 1.0
        rows = [
            [t["op"], t["unit"], f"{t['calls']:,}", _ms(t["cpu_time_s"]),
             f"{100 * t['cpu_time_s'] / busy:.1f}%", _ms(t["npu_time_s"]),
             f"{t['flops'] / 1e6:,.2f}"]
            for t in u["top_ops"]
        ]  # fmt: skip
        header = ["op", "unit", "calls", "CPU ms", "CPU %", "NPU ms (est)", "MFLOP"]
        return (f"Top ops on {default} (by measured time)", header, rows)

    # -- rendering ------------------------------------------------------------------------

    def text(self) -> str:
        """Return the tables as aligned plain text."""
        parts = []
        for title, header, rows in self.tables():
            parts.append(title)
            parts.append(_text_table(header, rows or [["(none)"] + [""] * (len(header) - 1)]))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        parts = ['<div class="npukernel-report">']
        for title, header, rows in self.tables():
            parts.append(f"<p><b>{html.escape(title)}</b></p>")
            parts.append(_html_table(header, rows))
        parts.append("</div>")
        return "".join(parts)

    def __repr__(self) -> str:
        return self.text()


def _text_table(header: list[str], rows: Iterable[list[str]]) -> str:
    rows = [header, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                              for i, (c, w) in enumerate(zip(r, widths))) for r in rows]  # fmt: skip
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="dataframe"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
