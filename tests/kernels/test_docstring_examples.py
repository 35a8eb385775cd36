"""The examples in the kernel modules' docstrings are run, so they stay true."""

import doctest
import importlib

import pytest

from npukernel.kernels import simd

MODULES = [
    "npukernel.kernels.blas",
    "npukernel.kernels.conv",
    "npukernel.kernels.conv_implicit",
    "npukernel.kernels.pool",
    # the SIMD tiles have no Python body: their example needs the JIT
    *(["npukernel.kernels.simd"] if simd.AVAILABLE else []),
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
