"""IPython magics: ``%npu`` (devices, chip profile, memory, top ops) and ``%%npu_profile``.

Load them with ``%load_ext npukernel`` in any Python kernel; the "Python 3 (NPU)" kernel
loads them at start.

===============================  ========================================================
``%npu``                         devices, memory and top ops of the default device
``%npu devices|memory|ops``      one of those tables (``%npu ops 20``: top 20)
``%npu profile [chip]``          the default device's chip profile (or a named one)
``%npu use npu:1``               make ``npu:1`` the default device
``%npu count 2``                 simulate two NPUs (``npu:0``, ``npu:1``)
``%npu reset``                   forget launch counters and memory peaks
``%%npu_profile [-s COL] [-n N]  run the cell under the profiler and show per-op
[-o NAME]``                      measured vs estimated NPU time
===============================  ========================================================

Example:
    >>> from IPython.testing.globalipapp import get_ipython  # doctest: +SKIP
    >>> ip = get_ipython(); ip.run_line_magic("load_ext", "npukernel")  # doctest: +SKIP
    >>> ip.run_line_magic("npu", "use npu:0")  # doctest: +SKIP
    default device: npu:0 (ascend910)
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from npukernel import device, profiler
from npukernel.device import profiles
from npukernel.errors import NpuError
from npukernel.notebook.report import SECTIONS, UsageReport

_SECTION_ALIASES = {"devices": "devices", "memory": "memory", "mem": "memory",
                    "ops": "ops", "top": "ops"}  # fmt: skip


@magics_class
class NPUMagics(Magics):
    """The ``%npu`` line magic and the ``%%npu_profile`` cell magic."""

    @line_magic
    def npu(self, line: str = "") -> Any:
        """Show the virtual NPU: ``%npu [devices|memory|ops [N]|profile [chip]|use DEV|count N|reset]``.

        Example:
            >>> NPUMagics(None).npu("use npu:0")  # doctest: +SKIP
        """
        words = line.split()
        cmd = words[0].lower() if words else ""
        rest = words[1:]
        try:
            if not cmd:
                return UsageReport.now(SECTIONS)
            if cmd in _SECTION_ALIASES:
                return self._section(_SECTION_ALIASES[cmd], rest)
            if cmd == "profile":
                return _Text(profiles.get(rest[0]) if rest else device.default().profile)
            if cmd == "use":
                return self._use(rest)
            if cmd == "count":
                return self._count(rest)
            if cmd == "reset":
                for dev in device.devices():
                    dev.reset_counters()
                print("counters reset on", ", ".join(d.name for d in device.devices()))
                return None
            if cmd == "help":
                print(__doc__)
                return None
        except NpuError as exc:
            raise UsageError(str(exc)) from None
        raise UsageError(
            f"%npu: unknown command {cmd!r}; use one of devices, memory, ops [N], "
            "profile [chip], use DEVICE, count N, reset, help."
        )

    @staticmethod
    def _section(section: str, rest: list[str]) -> UsageReport:
        top = 10
        if rest:
            if not rest[0].isdigit():
                raise UsageError(f"%npu {section}: expected a number of ops, got {rest[0]!r}.")
            top = int(rest[0])
        return UsageReport.now((section,), top=top)

    @staticmethod
    def _use(rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError("%npu use: name one device, e.g. %npu use npu:1")
        dev = device.set_default(rest[0])
        print(f"default device: {dev.name} ({dev.profile.name})")

    @staticmethod
    def _count(rest: list[str]) -> None:
        if len(rest) != 1 or not rest[0].isdigit():
            raise UsageError("%npu count: give the number of NPUs, e.g. %npu count 2")
        found = device.set_num_devices(int(rest[0]))
        print("devices:", ", ".join(d.name for d in found), "+ cpu")

    @magic_arguments()
    @argument("-s", "--sort", default="cpu_time_s", help="column to sort by (npu_time_s, ...)")
    @argument("-n", "--top", type=int, default=20, help="how many ops to show")
    @argument("-o", "--out", default=None, help="store the Profile in this variable")
    @argument("-q", "--quiet", action="store_true", help="show nothing, only store")
    @argument("--table", action="store_true", help="plain table instead of the widget")
    @cell_magic
    def npu_profile(self, line: str, cell: str) -> None:
        """Profile one cell: every kernel launch, measured CPU vs estimated NPU time.

        Example:
            >>> # %%npu_profile -s npu_time_s -o prof
            >>> # y = net(x)
        """
        args = parse_argstring(self.npu_profile, line)
        if args.sort not in ("op", *profiler.SUMMARY_COLUMNS):
            raise UsageError(
                f"%%npu_profile: --sort must be one of {['op', *profiler.SUMMARY_COLUMNS]}, "
                f"got {args.sort!r}."
            )
        with profiler.profile() as prof:
            result = self.shell.run_cell(cell, store_history=False)
        self.shell.user_ns["_npu_profile"] = prof
        if args.out:
            self.shell.user_ns[args.out] = prof
        if args.quiet or not result.success:
            return
        display(_profile_display(prof, args.sort, args.top, table=args.table))


def _profile_display(prof: profiler.Profile, sort: str, top: int, table: bool) -> Any:
    """The widget view of a profile when widgets are installed, else its table."""
    if not table:
        try:
            from npukernel.notebook.profile_view import ProfileView
        except ImportError:  # the lab extra (anywidget) is not installed
            pass
        else:
            return ProfileView(prof, sort_by=sort, top=top)
    return _ProfileTable(prof, sort, top)


class _ProfileTable:
    """A profile's summary with a chosen sort and length (HTML in notebooks)."""

    def __init__(self, prof: profiler.Profile, sort: str, top: int) -> None:
        self.prof, self.sort, self.top = prof, sort, top

    def _repr_html_(self) -> str:
        import html

        frame = self.prof.summary(sort_by=self.sort, top=self.top)
        body = (
            "<p>(no kernel launches)</p>"
            if frame.empty
            else frame.to_html(float_format=lambda v: f"{v:.4g}")
        )
        return f"<div><p><b>{html.escape(self.prof._headline())}</b></p>{body}</div>"

    def __repr__(self) -> str:
        return self.prof.table(sort_by=self.sort, top=self.top)


class _Text:
    """Show an object's ``str`` as the cell's result (no quotes, kept monospace)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __repr__(self) -> str:
        return str(self.obj)
