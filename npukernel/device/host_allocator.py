"""Keep freed kernel buffers in the process instead of handing them back to the OS.

Kernels allocate their outputs with numpy, which uses the C library's ``malloc``. glibc
serves blocks above ``M_MMAP_THRESHOLD`` (128 KiB at first) with a fresh ``mmap`` and
returns them with ``munmap`` when freed, so the next step's buffer of the same size
page-faults all over again: on a small convolution that was 5x the kernel's own time,
and relu on a 64x6x24x24 activation took 0.22 ms in a train step against 0.05 ms alone.
PyTorch avoids this with its caching allocator. Raising the mmap threshold (to 32 MiB,
glibc's maximum) and the trim threshold (to 512 MiB) makes glibc keep and reuse those
blocks, which is the same effect for every kernel at once, eager or compiled.

The cost is that up to ``trim`` bytes of freed memory stay with the process. Set
``NPUKERNEL_HOST_ALLOCATOR=system`` before importing npukernel to keep glibc's defaults.
Elsewhere than glibc (macOS, musl) this does nothing.

Example:
    >>> tune() in (True, False)
    True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 512 << 20

_state = {"tuned": False}


def tune() -> bool:
    """Apply the thresholds once (glibc only); return whether they are in effect."""
    if _state["tuned"]:
        return True
    if os.environ.get("NPUKERNEL_HOST_ALLOCATOR", "").lower() == "system":
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _state["tuned"] = ok
    return ok
