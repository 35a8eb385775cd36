"""The scalar functions behind every elementwise operator.

Each is plain Python that numba compiles inline into the kernel templates of
``npukernel.kernels.elementwise`` (``register_jitable``); called from Python they run as
ordinary functions, which is how the tests use them as a reference and how a student can
step through them.
"""

from __future__ import annotations

import math

from numba import njit

from npukernel.kernels import package_only

package_only(__name__, __file__)  # not as a file: numba's cache would break

register_jitable = njit(inline="always", cache=True, error_model="numpy")

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@register_jitable
def neg(x):
    return -x


@register_jitable
def abs_(x):
    return abs(x)


@register_jitable
def exp(x):
    return math.exp(x)


@register_jitable
def log(x):
    if x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log(x)


@register_jitable
def log1p(x):
    if x < -1:
        return math.nan
    if x == -1:
        return -math.inf
    return math.log1p(x)


@register_jitable
def expm1(x):
    return math.expm1(x)


@register_jitable
def sqrt(x):
    if x < 0:
        return math.nan
    return math.sqrt(x)


@register_jitable
def rsqrt(x):
    if x < 0:
        return math.nan
    if x == 0:
        return math.inf
    return 1.0 / math.sqrt(x)


@register_jitable
def square(x):
    return x * x


@register_jitable
def reciprocal(x):
    if x == 0:
        return math.copysign(math.inf, x)
    return 1.0 / x


@register_jitable
def sin(x):
    if math.isinf(x):
        return math.nan
    return math.sin(x)


@register_jitable
def cos(x):
    if math.isinf(x):
        return math.nan
    return math.cos(x)


@register_jitable
def tanh(x):
    return math.tanh(x)


@register_jitable
def sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@register_jitable
def relu(x):
    return x if x > 0 else x - x  # x - x: +0.0 for negatives, nan for nan


@register_jitable
def gelu(x):
    # tanh approximation, as MindSpore's GeLU (approximate=True, the default).
    return 0.5 * x * (1.0 + math.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


@register_jitable
def softplus(x):
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@register_jitable
def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return x * 0


@register_jitable
def floor(x):
    return math.floor(x)


@register_jitable
def ceil(x):
    return math.ceil(x)


@register_jitable
def logical_not(x):
    return not x


@register_jitable
def add(a, b):
    return a + b


@register_jitable
def sub(a, b):
    return a - b


@register_jitable
def mul(a, b):
    return a * b


@register_jitable
def div(a, b):
    return a / b  # numpy error model: x / 0 is inf or nan, as in numpy


@register_jitable
def floor_div(a, b):
    return a // b  # numba's numpy error model: x // 0 is inf/nan for floats, 0 for ints


@register_jitable
def pow_(a, b):
    return a**b


@register_jitable
def maximum(a, b):
    if a != a:
        return a
    return a if a >= b else b


@register_jitable
def minimum(a, b):
    if a != a:
        return a
    return a if a <= b else b


@register_jitable
def equal(a, b):
    return a == b


@register_jitable
def not_equal(a, b):
    return a != b


@register_jitable
def less(a, b):
    return a < b


@register_jitable
def less_equal(a, b):
    return a <= b


@register_jitable
def greater(a, b):
    return a > b


@register_jitable
def greater_equal(a, b):
    return a >= b


@register_jitable
def logical_and(a, b):
    return bool(a) and bool(b)


@register_jitable
def logical_or(a, b):
    return bool(a) or bool(b)


# Gradient helpers: fused backward rules for the unary functions whose derivative
# would otherwise take several launches.
@register_jitable
def relu_grad(x, dy):
    return dy if x > 0 else dy * 0


@register_jitable
def sigmoid_grad(y, dy):
    return dy * y * (1.0 - y)


@register_jitable
def tanh_grad(y, dy):
    return dy * (1.0 - y * y)


@register_jitable
def gelu_grad(x, dy):
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
    t = math.tanh(inner)
    dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x)
    return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner)


@register_jitable
def softplus_grad(x, dy):
    return dy * sigmoid(x)
