"""Operators: the registry (``OPS``) and the functional API with ``mindspore.ops`` names.

Example:
    >>> import npukernel as npk
    >>> from npukernel import ops
    >>> ops.softmax(npk.Tensor([[1.0, 1.0]])).asnumpy().tolist()
    [[0.5, 0.5]]
"""

# isort: off
# Tensor first: tensor.py imports functional, which imports dispatch, which needs Tensor.
from npukernel import tensor as _tensor  # noqa: F401

# isort: on
from npukernel.ops import conv as _conv  # noqa: F401
from npukernel.ops import elementwise as _elementwise  # noqa: F401  (registers operators)
from npukernel.ops import functional
from npukernel.ops import linalg as _linalg  # noqa: F401
from npukernel.ops import movement as _movement  # noqa: F401
from npukernel.ops import norm as _norm  # noqa: F401
from npukernel.ops import reduce as _reduce  # noqa: F401
from npukernel.ops import softmax as _softmax  # noqa: F401
from npukernel.ops.functional import (
    abs,
    add,
    amax,
    amin,
    arange,
    argmax,
    argmin,
    broadcast_to,
    cast,
    cat,
    ceil,
    clamp,
    clip,
    concat,
    cos,
    div,
    divide,
    eq,
    equal,
    exp,
    expand_dims,
    expm1,
    eye,
    flatten,
    floor,
    floor_divide,
    full,
    full_like,
    gather,
    ge,
    gelu,
    greater,
    greater_equal,
    gt,
    le,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    multiply,
    ne,
    neg,
    negative,
    not_equal,
    one_hot,
    ones,
    ones_like,
    pad,
    permute,
    pow,
    reciprocal,
    relu,
    reshape,
    rsqrt,
    sigmoid,
    sign,
    sin,
    softplus,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    subtract,
    sum,
    tanh,
    transpose,
    true_divide,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)
from npukernel.ops.functional_nn import (
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    conv2d,
    cross_entropy,
    dense,
    dropout,
    layer_norm,
    log_softmax,
    max_pool2d,
    rand,
    randint,
    randn,
    softmax,
)
from npukernel.ops.opdef import OPS, OpDef, half_in_float, register

# numba has no float16 arithmetic: the image/norm/softmax kernels compute fp16 in fp32.
for _op in OPS.values():
    if _op.group in ("conv", "pool", "norm", "softmax", "loss", "random"):
        _op.npu = half_in_float(_op.npu, _op.saves)
OPS["where"].npu = half_in_float(OPS["where"].npu)
OPS["dropout"].cpu = half_in_float(OPS["dropout"].cpu, saves=True)
OPS["dropout_backward"].cpu = half_in_float(OPS["dropout_backward"].cpu)

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "conv2d", "cross_entropy", "dense",
    "dropout", "layer_norm", "log_softmax", "max_pool2d", "rand", "randint", "randn", "softmax",
    "OPS", "OpDef", "abs", "add", "amax", "amin", "arange", "argmax", "argmin", "broadcast_to",
    "cast", "cat", "ceil", "clamp", "clip", "concat", "cos", "div", "divide", "eq", "equal", "exp",
    "expand_dims", "expm1", "eye", "flatten", "floor", "floor_divide", "full", "full_like",
    "functional", "gather", "ge", "gelu", "greater", "greater_equal", "gt", "le", "less",
    "less_equal", "log", "log1p", "logical_and", "logical_not", "logical_or", "logsumexp", "lt",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "multiply", "ne", "neg",
    "negative", "not_equal", "one_hot", "ones", "ones_like", "pad", "permute", "pow",
    "reciprocal", "register", "relu", "reshape", "rsqrt", "sigmoid", "sign", "sin", "softplus",
    "split", "sqrt", "square", "squeeze", "stack", "std", "sub", "subtract", "sum", "tanh",
    "transpose", "true_divide", "unsqueeze", "var", "where", "zeros", "zeros_like",
]  # fmt: skip
