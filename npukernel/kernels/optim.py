"""Optimizer update kernels: one pass over each parameter instead of four numpy passes.

``momentum`` is MindSpore's ApplyMomentum, in place::

    for i in range(n):
        acc[i] = m * acc[i] + g[i]
        p[i] -= lr * (g[i] + m * acc[i]) if nesterov else lr * acc[i]

All arrays are flat, contiguous and of one float dtype (float16 parameters take the
numpy path in ``nn.optim``).
"""

from __future__ import annotations

from numba import njit

from npukernel.kernels import package_only

package_only(__name__, __file__)  # not as a file: numba's cache would break


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def momentum(p, g, acc, lr, m, nesterov):  # noqa: ANN001, ANN201
    """ApplyMomentum on flat arrays (see the module docstring)."""
    mm = p.dtype.type(m)
    rate = p.dtype.type(lr)
    for i in range(p.shape[0]):
        a = mm * acc[i] + g[i]
        acc[i] = a
        if nesterov:
            p[i] -= rate * (g[i] + mm * a)
        else:
            p[i] -= rate * a
