"""Helper threads that stay awake between parallel kernels, for the batch-split kernels.

The convolution kernels split a batch over threads (``kernels/conv.py``). A
``ThreadPoolExecutor`` worker sleeps on a lock between jobs, and on a virtual machine a
sleeping vCPU takes 50-100 us to wake (measured here: each half of a 400 us GEMM took
210 us on its thread, but the pool's half started ~100 us late, so the pair took 320).
OpenBLAS and onnxruntime keep their workers spinning between calls for the same reason.

Here each helper thread, after a job, spins for :data:`SPIN_SECONDS` in a ``nogil``
numba loop (x86 ``pause``; no GIL held, so the calling thread's Python runs on) watching
its control words, and only then sleeps on an ``Event``. A job handed to a spinning
helper starts within microseconds.

Work is never left waiting on a helper: :func:`run` runs the first call itself, then, for
each helper's call, either finds the helper already on it (and waits for it to finish) or
claims it by compare-and-swap and runs it too. So a helper that is asleep, descheduled by
the OS, or busy with another thread's job costs only the serial time.

The control words of a helper (``int64``, one cache line each): ``SEQ`` the last job
posted, ``CLAIM`` the last job taken (by the helper or back by the caller), ``DONE`` the
last job the helper finished, ``STATE`` spinning or sleeping, ``STOP`` set at exit.

Example:
    >>> from npukernel.kernels import workers
    >>> out = []
    >>> workers.run([(out.append, (1,)), (out.append, (2,))])
    >>> sorted(out)
    [1, 2]
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Sequence

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["SPIN_SECONDS", "helpers", "run"]

#: How long a helper spins after its last job before it sleeps. LeNet-5's and ResNet-20's
#: parallel convolutions come 0.05-1 ms apart in a step; an idle notebook's helper burns
#: at most this much CPU after the last one.
SPIN_SECONDS = 0.002

SEQ, CLAIM, DONE, STATE, STOP = 0, 8, 16, 24, 32  # one 64-byte line each
_WORDS = 40
SLEEPING, SPINNING = 0, 1

AVAILABLE = not numba.config.DISABLE_JIT


def _element(context, builder, aty, arr, index):  # noqa: ANN001, ANN202
    data = context.make_array(aty)(context, builder, arr).data
    return builder.gep(data, [index])


@intrinsic
def _load(typingctx, arr, index):  # noqa: ANN001, ANN202
    """``arr[index]``, a sequentially consistent atomic read (``int64``)."""
    sig = types.int64(arr, index)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.load_atomic(
            _element(context, builder, signature.args[0], *args), "seq_cst", 8
        )

    return sig, codegen


@intrinsic
def _store(typingctx, arr, index, value):  # noqa: ANN001, ANN202
    """``arr[index] = value``, a sequentially consistent atomic write (``int64``)."""
    sig = types.void(arr, index, value)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        ptr = _element(context, builder, signature.args[0], args[0], args[1])
        builder.store_atomic(args[2], ptr, "seq_cst", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _cas(typingctx, arr, index, expected, new):  # noqa: ANN001, ANN202
    """Set ``arr[index] = new`` if it holds ``expected``; whether it did (atomically)."""
    sig = types.boolean(arr, index, expected, new)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        ptr = _element(context, builder, signature.args[0], args[0], args[1])
        pair = builder.cmpxchg(ptr, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)

    return sig, codegen


@intrinsic
def _pause(typingctx):  # noqa: ANN001, ANN202
    """The spin-wait hint (x86 ``pause``; nothing elsewhere)."""
    sig = types.void()

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        if "x86" in builder.module.triple or "i686" in builder.module.triple:
            fnty = ir.FunctionType(ir.VoidType(), [])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def _next_job(ctrl, seen, spins):  # noqa: ANN001, ANN202
    """The helper's wait: a new ``SEQ`` (returned), or ``seen`` after ``spins`` pauses.

    Before giving up it marks itself sleeping and looks once more (the caller writes
    ``SEQ`` then reads ``STATE``; this writes ``STATE`` then reads ``SEQ``: one of the two
    sees the other, so a job is never posted to a helper that sleeps unwoken).
    """
    for _ in range(spins):
        s = _load(ctrl, SEQ)
        if s != seen or _load(ctrl, STOP):
            return s
        _pause()
    _store(ctrl, STATE, SLEEPING)
    s = _load(ctrl, SEQ)
    if s != seen:
        _store(ctrl, STATE, SPINNING)
    return s


@njit(cache=True, nogil=True)
def _post(ctrl, seq):  # noqa: ANN001, ANN202
    """Publish job ``seq``; whether the helper sleeps (and needs waking)."""
    _store(ctrl, SEQ, seq)
    return _load(ctrl, STATE) == SLEEPING


@njit(cache=True, nogil=True)
def _claim(ctrl, seq):  # noqa: ANN001, ANN202
    """Take job ``seq`` (helper or caller; exactly one of them gets it)."""
    return _cas(ctrl, CLAIM, seq - 1, seq)


@njit(cache=True, nogil=True)
def _finish(ctrl, seq):  # noqa: ANN001, ANN202
    _store(ctrl, DONE, seq)


@njit(cache=True, nogil=True)
def _awake(ctrl):  # noqa: ANN001, ANN202
    _store(ctrl, STATE, SPINNING)


@njit(cache=True, nogil=True)
def _wait_done(ctrl, seq):  # noqa: ANN001, ANN202
    while _load(ctrl, DONE) != seq:
        _pause()


@njit(cache=True, nogil=True)
def _pause_loop(count):  # noqa: ANN001, ANN202
    for _ in range(count):
        _pause()


class _Helper:
    """One helper thread and its control words."""

    def __init__(self, index: int, spins: int) -> None:
        self.ctrl = np.zeros(_WORDS, dtype=np.int64)
        self.ctrl[STATE] = SPINNING
        self.seq = 0
        self.job: tuple | None = None
        self.error: BaseException | None = None
        self.spins = spins
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"npukernel-worker-{index}",
                                       daemon=True)  # fmt: skip
        self.thread.start()

    def _loop(self) -> None:
        ctrl, seen = self.ctrl, 0
        while True:
            s = _next_job(ctrl, seen, self.spins)
            if ctrl[STOP]:
                return
            if s == seen:  # spun long enough: sleep until a caller wakes us
                self.wake.wait()
                self.wake.clear()
                _awake(ctrl)
                continue
            seen = s
            if _claim(ctrl, s):
                fn, args = self.job
                try:
                    fn(*args)
                except BaseException as exc:  # handed to the caller, raised there
                    self.error = exc
                _finish(ctrl, s)

    def stop(self) -> None:
        self.ctrl[STOP] = 1
        self.wake.set()
        self.thread.join(timeout=1.0)


class _Pool:
    def __init__(self, n: int) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        spins = _spins_for(SPIN_SECONDS)
        self.helpers = [_Helper(i, spins) for i in range(n)]


def _spins_for(seconds: float) -> int:
    """Pause steps in about ``seconds`` (a ``pause`` takes 10-150 cycles by CPU)."""
    _pause_loop(1000)
    steps = 20000
    t0 = time.perf_counter()
    _pause_loop(steps)
    each = max((time.perf_counter() - t0) / steps, 1e-9)
    return max(1000, int(seconds / each))


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def helpers() -> int:
    """How many helper threads :func:`run` can hand calls to (``cpu_count - 1``; 0 without JIT).

    Example:
        >>> import os
        >>> helpers() == (max(0, (os.cpu_count() or 1) - 1) if AVAILABLE else 0)
        True
    """
    return max(0, (os.cpu_count() or 1) - 1) if AVAILABLE else 0


def _current() -> _Pool | None:
    global _pool
    pool = _pool
    if pool is not None and pool.pid == os.getpid():
        return pool
    if helpers() == 0:
        return None
    with _pool_lock:  # first use, or a forked child (the parent's threads are not in it)
        if _pool is None or _pool.pid != os.getpid():
            _pool = _Pool(helpers())
        return _pool


def run(calls: Sequence[tuple[Callable, tuple]]) -> None:
    """Run ``fn(*args)`` for every ``(fn, args)`` of ``calls``, in parallel where it can.

    The calling thread runs the first; helpers get the others (one each; calls beyond the
    helpers run on the caller). ``fn`` should release the GIL (a ``nogil`` numba kernel)
    for the calls to overlap. An exception in any call is raised here, after all calls
    have ended. When another thread is using the helpers, the calls run one after another
    on this thread.

    Args:
        calls: ``(function, arguments)`` pairs.
    """
    pool = _current() if len(calls) > 1 else None
    if pool is None or not pool.lock.acquire(blocking=False):
        for fn, args in calls:
            fn(*args)
        return
    try:
        posted = []
        for h, (fn, args) in zip(pool.helpers, calls[1:]):
            h.seq += 1
            h.job, h.error = (fn, args), None
            if _post(h.ctrl, h.seq):
                h.wake.set()
            posted.append(h)
        error = None
        rest = [(fn, args) for fn, args in calls[0:1]] + list(calls[1 + len(posted) :])
        try:
            for fn, args in rest:
                fn(*args)
        except BaseException as exc:
            error = exc
        for h in posted:
            if _claim(h.ctrl, h.seq):  # not started yet: run it here rather than wait
                if error is None:
                    try:
                        h.job[0](*h.job[1])
                    except BaseException as exc:
                        error = exc
            else:
                _wait_done(h.ctrl, h.seq)
                if error is None and h.error is not None:
                    error = h.error
            h.job = None
        if error is not None:
            raise error
    finally:
        pool.lock.release()


@atexit.register
def _stop() -> None:
    pool = _pool
    if pool is not None and pool.pid == os.getpid():
        for h in pool.helpers:
            h.stop()
