import numpy as np
import scipy.linalg  # noqa: F401 - a second BLAS in the process, as numba brings
from threadpoolctl import threadpool_info

import npukernel as npk
from npukernel import ops
from npukernel.kernels import blas


def _blas_threads():
    """Threads of numpy's own BLAS (the one np.matmul uses; scipy may load a second one)."""
    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    ours = [i for i in libs if "numpy" in i["filepath"].split("/")[-2]]
    return (ours or libs)[0]["num_threads"]


def test_small_gemms_run_on_one_blas_thread_and_large_ones_on_all():
    assert blas._controller(), threadpool_info()  # we control numpy's BLAS
    a = npk.Tensor(np.ones((64, 64), np.float32))
    ops.matmul(a, a)
    assert _blas_threads() == 1
    big = npk.Tensor(np.ones((512, 512), np.float32))  # 268 MFLOP
    ops.matmul(big, big)
    assert _blas_threads() == blas._state["max"] >= 1
    ops.matmul(a, a)
    assert _blas_threads() == 1


def test_a_count_changed_behind_our_back_is_set_again():
    from threadpoolctl import threadpool_limits

    a = npk.Tensor(np.ones((64, 64), np.float32))
    ops.matmul(a, a)
    limits = threadpool_limits(limits=2, user_api="blas")  # someone else's setting
    try:
        ops.matmul(a, a)
        assert _blas_threads() == 1
    finally:
        limits.restore_original_limits()
