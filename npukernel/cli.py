"""The ``npukernel`` command line.

::

    npukernel install-kernel [--user | --sys-prefix | --prefix PATH] [--name NAME]
    npukernel usage [--interval 1.0] [--top 5]   # this process's counters, as JSON

Example:
    >>> from npukernel.cli import main
    >>> main(["usage", "--top", "1"])  # doctest: +ELLIPSIS
    {...
    0
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="npukernel", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    kernel = commands.add_parser(
        "install-kernel",
        help="install the 'Python 3 (NPU)' Jupyter kernel spec",
        description="Install the 'Python 3 (NPU)' kernel spec for Jupyter. The wheel "
        "already ships it under sys.prefix; use this where that is not picked up.",
    )
    where = kernel.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for the current user only")
    where.add_argument(
        "--sys-prefix", action="store_true", help=f"into this environment ({sys.prefix})"
    )
    where.add_argument("--prefix", help="under PREFIX/share/jupyter/kernels")
    kernel.add_argument("--name", default="npu", help="kernel spec name (default: npu)")
    kernel.add_argument("--display-name", help="name shown in Jupyter")

    usage = commands.add_parser("usage", help="print this process's device counters as JSON")
    usage.add_argument("--interval", type=float, default=1.0, help="utilisation window, s")
    usage.add_argument("--top", type=int, default=5, help="how many ops to list")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Example:
        >>> main(["install-kernel", "--prefix", "/tmp/x"])  # doctest: +SKIP
        Installed kernel spec 'npu' in /tmp/x/share/jupyter/kernels/npu
        0
    """
    args = _parser().parse_args(argv)
    if args.command == "install-kernel":
        from npukernel.notebook.kernelspec_install import install_kernel_spec

        prefix = sys.prefix if args.sys_prefix else args.prefix
        path = install_kernel_spec(
            user=args.user, prefix=prefix, name=args.name, display_name=args.display_name
        )
        print(f"Installed kernel spec {args.name!r} in {path}")
        return 0
    from npukernel.notebook.usage import npu_usage

    print(json.dumps(npu_usage({"interval_s": args.interval, "top": args.top}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
