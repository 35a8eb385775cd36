"""A small dense layer in one call: ``relu?(x @ w.T + b)``.

For a batch-1 layer of a few thousand weights, the arithmetic takes well under a
microsecond and the calls around it take the time: BLAS's ``dot``, then ``y += b`` and
``np.maximum(y, 0, out=y)`` cost 6-8 us together on LeNet-5's classifier layers, of
which the product is 1.6-4 us. :func:`dense_small` does the three in one numba call
(dot products of the rows, vectorised by letting LLVM reassociate the sums); the dense operator runs it for
layers of up to ``ops/linalg.py``'s ``_SMALL_MACS`` multiply-adds. Larger layers stay on
BLAS, which streams a large weight better (784x256 at batch 1: this loop took up to 1.7x
OpenBLAS's time); :func:`bias_act` then adds their bias and applies the ReLU in one pass.

Example:
    >>> import numpy as np
    >>> x = np.ones((1, 3), np.float32); w = np.ones((2, 3), np.float32)
    >>> dense_small(x, w, np.array([1.0, -5.0], np.float32), True).tolist()
    [[4.0, 0.0]]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from npukernel.kernels import package_only

package_only(__name__, __file__)  # not as a file: numba's cache would break

__all__ = ["bias_act", "dense_small"]


# Reassociation lets the dot products vectorise; without "nnan"/"ninf" a NaN or an
# infinity still comes out as BLAS gives it (a diverging loss must stay visible).
_FM = {"reassoc", "nsz", "contract"}


@njit(cache=True, nogil=True, fastmath=_FM)
def _dense_rows(x, w, b, relu, y):
    m, k = x.shape
    n = w.shape[0]
    has_bias = b.shape[0] > 0
    zero = x.dtype.type(0)  # sums in the array's own type: a float32 row vectorises 8 wide
    for i in range(m):
        xi = x[i]
        for j in range(n):
            wj = w[j]
            acc = zero
            for q in range(k):
                acc += xi[q] * wj[q]
            if has_bias:
                acc += b[j]
            y[i, j] = max(acc, zero) if relu else acc


def dense_small(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """``relu?(x @ w.T + b)`` for C-contiguous 2-D ``x`` ``(M, K)`` and ``w`` ``(N, K)``.

    Args:
        x: Inputs, float32 or float64, C-contiguous.
        w: Weight of the same dtype, C-contiguous.
        b: Bias ``(N,)``, or an empty array for none.
        relu: Apply a ReLU.

    Returns:
        A new ``(M, N)`` array. The sums run in a different order from BLAS's (results
        agree to rounding).
    """
    y = np.empty((x.shape[0], w.shape[0]), x.dtype)
    _dense_rows(x, w, b, relu, y)
    return y


@njit(cache=True, nogil=True)
def bias_act(y: np.ndarray, b: np.ndarray, relu: bool) -> None:
    """``y = relu?(y + b)`` in place, for a C-contiguous 2-D ``y`` ``(M, N)`` and ``b`` ``(N,)``.

    The bias and ReLU after a BLAS product, in one pass: numpy's ``y += b`` and
    ``np.maximum(y, 0, out=y)`` took 13.5 us on LeNet-5's 64x120 layer and 22 us on the
    MLP's 64x256 one, this 2.1 and 2.9 us (warm caches, 28 Nov). A NaN stays NaN, as with
    ``np.maximum``. ``b`` may be empty (no bias).

    Example:
        >>> y = np.array([[1.0, -2.0], [np.nan, 0.5]], np.float32)
        >>> bias_act(y, np.array([0.5, 1.0], np.float32), True); y.tolist()
        [[1.5, 0.0], [nan, 1.5]]
    """
    m, n = y.shape
    zero = y.dtype.type(0)
    has_bias = b.shape[0] > 0
    for i in range(m):
        yi = y[i]
        if has_bias and relu:
            for j in range(n):
                v = yi[j] + b[j]
                yi[j] = zero if v < zero else v
        elif has_bias:
            for j in range(n):
                yi[j] += b[j]
        elif relu:
            for j in range(n):
                v = yi[j]
                yi[j] = zero if v < zero else v
