"""Elementwise operators: unary, binary (numpy broadcasting), where and cast.

Each operator is one row of a table: the scalar function its ``npu`` kernel is built from
(``kernels/scalar.py`` through the templates of ``kernels/elementwise.py``), the numpy
reference its ``cpu`` kernel uses, and its gradient rule written with ordinary operators.
float16 is computed in float32 and stored back as float16.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from npukernel.dtypes import compute_dtype
from npukernel.errors import ValueRangeError
from npukernel.kernels import deferred, lazy
from npukernel.ops import functional as F
from npukernel.ops.opdef import BINARY, CAST, TERNARY, UNARY, OpDef, register

ew = lazy("npukernel.kernels.elementwise")

_BOOL = np.dtype(bool)


def _npu_unary(fn: str) -> Callable:
    def kernel(x: np.ndarray) -> np.ndarray:
        cd = compute_dtype(x.dtype)
        if cd is x.dtype:
            return ew.unary(fn, x, x.dtype)
        return ew.unary(fn, x.astype(cd), cd).astype(x.dtype)

    kernel.__name__ = f"{fn}_npu"
    return kernel


def _cpu(fn: Callable) -> Callable:
    def kernel(*arrays: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = fn(*arrays)
        return np.asarray(out).astype(arrays[0].dtype, copy=False)

    return kernel


def _unary_examples(domain: str) -> Callable:
    def examples(rng: np.random.Generator) -> list:
        def draw(shape: tuple) -> np.ndarray:
            x = rng.standard_normal(shape)
            if domain == "positive":
                x = np.abs(x) + 0.5
            elif domain == "unit":
                x = np.clip(x * 0.3, -0.9, 0.9)
            return x

        base = draw((4, 6))
        return [
            ([draw((3, 5))], {}),
            ([base.T], {}),  # non-contiguous
            ([base[::2, 1::2]], {}),  # strided slice
            ([draw((0, 3))], {}),  # empty
            ([draw(())], {}),  # 0-d
            ([draw((1, 1, 7))], {}),
        ]

    return examples


# name: (scalar fn, numpy reference, domain, gradient rule(node, dy))
_UNARY: dict[str, tuple] = {
    "neg": ("neg", np.negative, "any", lambda n, dy: (F.neg(dy),)),
    "abs": ("abs_", np.abs, "any", lambda n, dy: (dy * F.sign(n.input(0)),)),
    "exp": ("exp", np.exp, "any", lambda n, dy: (dy * n.output(),)),
    "log": ("log", np.log, "positive", lambda n, dy: (dy / n.input(0),)),
    "log1p": ("log1p", np.log1p, "positive", lambda n, dy: (dy / (n.input(0) + 1),)),
    "expm1": ("expm1", np.expm1, "any", lambda n, dy: (dy * (n.output() + 1),)),
    "sqrt": ("sqrt", np.sqrt, "positive", lambda n, dy: (dy * 0.5 / n.output(),)),
    "rsqrt": ("rsqrt", lambda x: 1 / np.sqrt(x), "positive",
              lambda n, dy: (dy * F.pow(n.output(), 3) * -0.5,)),
    "square": ("square", np.square, "any", lambda n, dy: (dy * n.input(0) * 2,)),
    "reciprocal": ("reciprocal", np.reciprocal, "positive",
                   lambda n, dy: (F.neg(dy) * F.square(n.output()),)),
    "sin": ("sin", np.sin, "any", lambda n, dy: (dy * F.cos(n.input(0)),)),
    "cos": ("cos", np.cos, "any", lambda n, dy: (F.neg(dy) * F.sin(n.input(0)),)),
    "tanh": ("tanh", np.tanh, "any", lambda n, dy: (F.tanh_grad(n.output(), dy),)),
    "sigmoid": ("sigmoid", lambda x: 0.5 * (1 + np.tanh(0.5 * x)), "any",
                lambda n, dy: (F.sigmoid_grad(n.output(), dy),)),
    "relu": ("relu", lambda x: np.where(x > 0, x, 0), "any",
             lambda n, dy: (F.relu_grad(n.input(0), dy),)),
    "gelu": ("gelu",
             lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
             "any", lambda n, dy: (F.gelu_grad(n.input(0), dy),)),
    "softplus": ("softplus", lambda x: np.logaddexp(0, x), "any",
                 lambda n, dy: (F.softplus_grad(n.input(0), dy),)),
    "sign": ("sign", np.sign, "any", None),
    "floor": ("floor", np.floor, "any", None),
    "ceil": ("ceil", np.ceil, "any", None),
}  # fmt: skip

for _name, (_fn, _ref, _domain, _grad) in _UNARY.items():
    register(
        OpDef(
            name=_name, group=UNARY, npu=_npu_unary(_fn), cpu=_cpu(_ref), grad=_grad,
            examples=_unary_examples(_domain), doc=f"Elementwise {_name}(x).", scalar=_fn,
        )
    )  # fmt: skip


def _logical_not_npu(x: np.ndarray) -> np.ndarray:
    return ew.unary("logical_not", x, _BOOL)


register(OpDef("logical_not", UNARY, _logical_not_npu, lambda x: np.logical_not(x),
               doc="Elementwise not x (bool result).", scalar="logical_not"))  # fmt: skip


# -- binary --------------------------------------------------------------------------


def _npu_binary(fn: str, out_bool: bool = False) -> Callable:
    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        cd = compute_dtype(a.dtype)
        if cd is a.dtype:
            return ew.binary(fn, a, b, _BOOL if out_bool else a.dtype)
        out = ew.binary(fn, a.astype(cd), b.astype(cd), _BOOL if out_bool else cd)
        return out if out_bool else out.astype(a.dtype)

    kernel.__name__ = f"{fn}_npu"
    return kernel


def _cpu_bool(fn: Callable) -> Callable:
    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fn(a, b)

    return kernel


def _binary_examples(domain: str) -> Callable:
    def examples(rng: np.random.Generator) -> list:
        def draw(*shape: int) -> np.ndarray:
            x = rng.standard_normal(shape)
            return np.abs(x) + 0.5 if domain == "positive" else x

        m = draw(5, 4)
        return [
            ([draw(3, 4), draw(3, 4)], {}),
            ([draw(2, 3, 4), draw(4)], {}),  # bias-style broadcast
            ([draw(3, 1), draw(1, 5)], {}),  # outer broadcast
            ([m.T, draw(4, 1)], {}),  # non-contiguous + broadcast
            ([draw(2, 1, 3, 1, 2), draw(4, 1, 2, 1)], {}),  # 5-D, many broadcast dims
            ([draw(0, 3), draw(3)], {}),  # empty
            ([draw(3, 4), draw()], {}),  # scalar right
            ([draw(), draw(2, 2)], {}),  # scalar left
        ]

    return examples


def _unbroadcast(g, shape: tuple) -> object:
    return F.sum_to_shape(g, shape)


def _pow_grad(n, dy):
    a, b, y = n.input(0), n.input(1), n.output()
    da = dy * b * F.pow(a, b - 1)
    safe = F.where(a > 0, a, F.ones_like(a))
    db = F.where(a > 0, dy * y * F.log(safe), F.zeros_like(dy))
    return _unbroadcast(da, a.shape), _unbroadcast(db, b.shape)


def _minmax_grad(pick_a: Callable) -> Callable:
    def grad(n, dy):
        a, b = n.input(0), n.input(1)
        mask = F.cast(pick_a(a, b), dy.dtype)
        return _unbroadcast(dy * mask, a.shape), _unbroadcast(dy * (1 - mask), b.shape)

    return grad


_BINARY: dict[str, tuple] = {
    "add": ("add", np.add, "any",
            lambda n, dy: (_unbroadcast(dy, n.inputs[0].shape), _unbroadcast(dy, n.inputs[1].shape))),
    "sub": ("sub", np.subtract, "any",
            lambda n, dy: (_unbroadcast(dy, n.inputs[0].shape),
                           _unbroadcast(F.neg(dy), n.inputs[1].shape))),
    "mul": ("mul", np.multiply, "any",
            lambda n, dy: (_unbroadcast(dy * n.input(1), n.inputs[0].shape),
                           _unbroadcast(dy * n.input(0), n.inputs[1].shape))),
    "div": ("div", np.true_divide, "positive",
            lambda n, dy: (_unbroadcast(dy / n.input(1), n.inputs[0].shape),
                           _unbroadcast(F.neg(dy) * n.output() / n.input(1), n.inputs[1].shape))),
    "pow": ("pow_", np.power, "positive", _pow_grad),
    "maximum": ("maximum", np.maximum, "any", _minmax_grad(lambda a, b: a >= b)),
    "minimum": ("minimum", np.minimum, "any", _minmax_grad(lambda a, b: a <= b)),
    "floor_divide": ("floor_div", np.floor_divide, "positive", None),
}  # fmt: skip


def _pow_check(a: np.ndarray, b: np.ndarray) -> dict:
    if a.dtype.kind in "iu" and b.size and b.min() < 0:
        raise ValueRangeError(
            f"For 'pow', integer inputs need non-negative exponents, but got {b.min()}; cast to float first."
        )
    return {}


for _name, (_fn, _ref, _domain, _grad) in _BINARY.items():
    register(
        OpDef(
            check=_pow_check if _name == "pow" else None,
            name=_name, group=BINARY, npu=_npu_binary(_fn), cpu=_cpu(_ref), grad=_grad,
            examples=_binary_examples(_domain), doc=f"Elementwise {_name}(x, y) with broadcasting.",
            scalar=_fn,
        )
    )  # fmt: skip

_COMPARE = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
}
for _name, _ref in _COMPARE.items():
    register(
        OpDef(
            name=_name, group=BINARY, npu=_npu_binary(_name, out_bool=True), cpu=_cpu_bool(_ref),
            examples=_binary_examples("any"), doc=f"Elementwise {_name}(x, y) -> bool.", scalar=_name,
        )
    )  # fmt: skip

# Fused gradient kernels: one launch instead of the three or four a composed rule costs.
_GRADS = {
    "relu_grad": lambda x, dy: np.where(x > 0, dy, 0),
    "sigmoid_grad": lambda y, dy: dy * y * (1 - y),
    "tanh_grad": lambda y, dy: dy * (1 - y * y),
    "gelu_grad": lambda x, dy: dy * (
        0.5 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
        + 0.5 * x * (1 - np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)) ** 2)
        * np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * x * x)
    ),
    "softplus_grad": lambda x, dy: dy * 0.5 * (1 + np.tanh(0.5 * x)),
}  # fmt: skip
for _name, _ref in _GRADS.items():
    register(
        OpDef(
            name=_name, group=BINARY, npu=_npu_binary(_name), cpu=_cpu(_ref),
            examples=_binary_examples("any"), doc=f"Fused backward of {_name[:-5]}.", scalar=_name,
        )
    )  # fmt: skip


# -- where and cast --------------------------------------------------------------------


def _where_grad(n, dy):
    c = n.input(0)
    zero = F.zeros_like(dy)
    return (
        None,
        _unbroadcast(F.where(c, dy, zero), n.inputs[1].shape),
        _unbroadcast(F.where(c, zero, dy), n.inputs[2].shape),
    )


def _where_examples(rng: np.random.Generator) -> list:
    return [
        ([rng.standard_normal((3, 4)) > 0, rng.standard_normal((3, 4)), rng.standard_normal((3, 4))], {}),
        ([rng.standard_normal((3, 1)) > 0, rng.standard_normal((1, 4)), rng.standard_normal(())], {}),
    ]  # fmt: skip


register(
    OpDef(
        "where", TERNARY, deferred(ew, "where"), lambda c, a, b: np.where(c, a, b), grad=_where_grad,
        diff_inputs=(1, 2), examples=_where_examples, doc="x where condition else y.", scalar="where",
    )
)  # fmt: skip


def _cast_kernel(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    with np.errstate(all="ignore"):
        return x.astype(dtype)


def _cast_grad(n, dy):
    src = n.inputs[0].dtype
    if src.kind != "f" or n.attrs["dtype"].kind != "f":
        return (None,)  # a cast to or from an integer has no useful gradient
    return (F.cast(dy, src),)


register(
    OpDef(
        "cast", CAST, _cast_kernel, _cast_kernel, grad=_cast_grad,
        examples=lambda rng: [([rng.standard_normal((3, 4))], {"dtype": np.dtype("float64")}),
                          ([rng.standard_normal((2, 2)) * 3], {"dtype": np.dtype("int32")})],
        doc="Convert to another dtype.", scalar="cast",
    )
)  # fmt: skip
