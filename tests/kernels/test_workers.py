"""``kernels.workers``: helper threads that stay awake between the batch-split kernels."""

from __future__ import annotations

import multiprocessing
import threading
import time

import numpy as np
import pytest
from numba import njit

from npukernel.kernels import workers

needs_helpers = pytest.mark.skipif(
    workers.helpers() == 0, reason="one CPU, or NUMBA_DISABLE_JIT: run() is serial"
)


@njit(nogil=True, cache=True)
def _fill(out, row, value, spins):
    """A GIL-free call: ``out[row] = value`` after ``spins`` steps of work."""
    acc = 0.0
    for i in range(spins):
        acc += i * 1e-9
    out[row, :] = value + acc * 0.0


def _record(out, row, value, spins, threads):
    threads.append(threading.get_ident())
    _fill(out, row, value, spins)


def test_run_makes_every_call_once():
    out = np.zeros((5, 4))
    workers.run([(_fill, (out, r, r + 1.0, 1000)) for r in range(5)])  # more calls than helpers
    assert out[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    workers.run([])  # nothing to do
    workers.run([(_fill, (out, 0, 9.0, 10))])  # one call: on this thread
    assert out[0, 0] == 9.0


@needs_helpers
def test_a_spinning_helper_takes_calls_off_the_calling_thread():
    out = np.zeros((2, 4))
    seen: set = set()
    for _ in range(50):  # the helper spins between the runs, so it takes its call
        threads: list = []
        workers.run([(_record, (out, p, 1.0, 200_000, threads)) for p in range(2)])
        seen.update(threads)
    assert len(seen - {threading.get_ident()}) >= 1
    assert out.sum() == 8.0


@needs_helpers
def test_a_sleeping_helper_is_woken_and_a_late_one_is_not_waited_for():
    out = np.zeros((2, 4))
    workers.run([(_fill, (out, p, 1.0, 10)) for p in range(2)])
    time.sleep(workers.SPIN_SECONDS * 5 + 0.05)  # it has gone to sleep
    helper = workers._current().helpers[0]
    assert helper.ctrl[workers.STATE] == workers.SLEEPING
    workers.run([(_fill, (out, p, 2.0, 10)) for p in range(2)])  # its call ran somewhere
    assert out.sum() == 16.0
    workers.run([(_fill, (out, p, 3.0, 100_000)) for p in range(2)])  # and it is awake again
    assert out.sum() == 24.0


def _boom(*_):
    raise ValueError("call failed")


def test_an_exception_in_any_call_reaches_the_caller_and_the_pool_goes_on():
    out = np.zeros((2, 4))
    for calls in (
        [(_boom, ()), (_fill, (out, 1, 1.0, 10))],
        [(_fill, (out, 0, 1.0, 10)), (_boom, ())],
    ):
        with pytest.raises(ValueError, match="call failed"):
            workers.run(calls)
    workers.run([(_fill, (out, p, 5.0, 10)) for p in range(2)])
    assert out.sum() == 40.0


def test_threads_running_at_once_each_get_all_their_calls_made():
    outs = [np.zeros((2, 4)) for _ in range(4)]
    start = threading.Barrier(4)
    errors: list = []

    def use(k: int) -> None:
        start.wait()
        try:
            for i in range(100):
                workers.run([(_fill, (outs[k], p, float(i), 1000)) for p in range(2)])
                assert (outs[k] == i).all()
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=use, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def _child(queue) -> None:
    out = np.zeros((2, 4))
    workers.run([(_fill, (out, p, 7.0, 1000)) for p in range(2)])
    queue.put(out.sum())


@needs_helpers
def test_a_forked_child_gets_helpers_of_its_own():
    workers.run([(_fill, (np.zeros((2, 4)), p, 1.0, 10)) for p in range(2)])  # parent's pool
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0 and queue.get(timeout=5) == 56.0
