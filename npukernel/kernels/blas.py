"""How many threads BLAS may use for one GEMM.

OpenBLAS splits every GEMM over all cores and its workers spin between calls. On a
2-core machine that is shared (a notebook server, a test worker, numba's own threads),
splitting a small GEMM made a LeNet-5 training step 9x slower (254 ms vs 29 ms with one
thread, measured under load). So npukernel runs GEMMs below :data:`PARALLEL_MIN_FLOPS`
on one thread and lets larger ones use every core. The setting is process-wide in
OpenBLAS; :func:`threads_for` only sets it when the count differs.

Example:
    >>> from npukernel.kernels import blas
    >>> blas.threads_for(2 * 64 * 64 * 64)  # a small GEMM: one thread
    1
"""

from __future__ import annotations

import os

#: GEMMs of at least this many FLOPs may use every core (a 215x215x215 product). The MLP's
#: 64x784x256 layer (26 MFLOP) gains 1.5x from the second core on an idle machine
#: (inference b64: 0.79 -> 0.52 ms); convolutions split their batch over threads of their
#: own and keep BLAS on one thread (``kernels/conv.py``).
PARALLEL_MIN_FLOPS = 20_000_000

_state: dict = {"controller": None, "max": None, "tries": 0, "get": None}


def _controller():  # noqa: ANN202
    if not _state["controller"] and _state["tries"] < 3:  # a failed lookup is retried twice
        _state["tries"] += 1
        try:
            from threadpoolctl import ThreadpoolController

            libs = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # pragma: no cover - threadpoolctl missing or unknown BLAS
            libs = []
        # numpy's own BLAS runs np.matmul; scipy (loaded for numba) brings a second one
        ours = [c for c in libs if "numpy" in os.path.basename(os.path.dirname(c.filepath))]
        lib = (ours or libs or [False])[0]
        _state["controller"] = lib
        if lib:
            _state["max"] = max(1, min(lib.num_threads, os.cpu_count() or 1))
            _state["get"] = _getter(lib)
    return _state["controller"]


def _getter(lib):  # noqa: ANN001, ANN202
    """The library's own thread-count query, as a bare ctypes function where possible.

    That is ~0.2 us a call; threadpoolctl's property, the fallback, makes a few lookups
    (~1 us).
    """
    try:
        layer = getattr(lib, "threading_layer", None)
        name = "omp_get_max_threads" if layer == "openmp" else "openblas_get_num_threads"
        fn = lib._get_symbol(name)
        if fn is not None and fn() == lib.num_threads:
            return fn
    except Exception:  # pragma: no cover - another BLAS or threadpoolctl version
        pass
    return lambda: lib.num_threads


def threads_for(flops: int) -> int:
    """Set BLAS's thread count for a GEMM of ``flops`` operations; return the count."""
    ctl = _controller()
    if not ctl:
        return 0
    n = _state["max"] if flops >= PARALLEL_MIN_FLOPS else 1
    # asked each time (a bare C call), not cached: other code (threadpoolctl in a
    # notebook, another library) may have changed the process-wide setting since
    if _state["get"]() != n:
        ctl.set_num_threads(n)
    return n
