"""Run registry operators on real tensors and compare against references."""

from __future__ import annotations

import numpy as np

import npukernel as npk
from npukernel import autograd
from npukernel.ops.dispatch import apply
from npukernel.ops.opdef import OPS
from npukernel.tensor import Tensor


def tensors(arrays, device):
    dev = npk.device.get(device)
    return [Tensor._wrap(a, dev) for a in arrays]


def run(op, arrays, attrs, device):
    out = apply(op, *tensors(arrays, device), **attrs)
    outs = out if isinstance(out, tuple) else (out,)
    return [o.asnumpy() for o in outs]


def cast_floats(arrays, dtype):
    arrays = [np.asarray(a) for a in arrays]  # rng draws of shape () are numpy scalars
    return [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]


def tol(op_name, dtype):
    if dtype == np.float64:
        return dict(rtol=1e-9, atol=1e-11)
    loose = {"gelu", "gelu_grad", "softplus", "softplus_grad", "logsumexp", "var", "pow", "rsqrt"}
    return dict(rtol=2e-5 if op_name in loose else 1e-5, atol=1e-5)


def numeric_grads(op, arrays, attrs, sens, diff, eps=1e-6):
    """Central finite differences of sum(out * sens) on the cpu reference."""
    cpu = OPS[op.name].cpu
    if op.check is not None:
        attrs = op.check(*arrays, **attrs)

    def f(arrs):
        res = cpu(*arrs, **attrs)
        if op.saves:
            res = res[0]
        outs = res if op.n_outputs != 1 else (res,)
        return sum(float(np.sum(o * s)) for o, s in zip(outs, sens))

    grads = []
    for i in diff:
        a = np.array(arrays[i], dtype=np.float64, copy=True)
        g = np.zeros_like(a)
        it = np.nditer(a, flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            old = a[idx]
            arrs = list(arrays)
            a[idx] = old + eps
            arrs[i] = a.copy()
            fp = f(arrs)
            a[idx] = old - eps
            arrs[i] = a.copy()
            fm = f(arrs)
            a[idx] = old
            g[idx] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


def analytic_grads(op, arrays, attrs, sens, diff, device):
    ts = tensors(arrays, device)
    for i in diff:
        ts[i].requires_grad = True
    with autograd.enable_grad():
        out = apply(op, *ts, **attrs)
    outs = out if isinstance(out, tuple) else (out,)
    dev = npk.device.get(device)
    gs = autograd.backward(list(outs), [Tensor._wrap(s, dev) for s in sens], [ts[i] for i in diff])
    return [np.zeros(arrays[i].shape) if g is None else g.asnumpy() for g, i in zip(gs, diff)]
