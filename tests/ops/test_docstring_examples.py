"""The examples in the operator modules' docstrings are run, so they stay true."""

import doctest
import importlib

import pytest

MODULES = [
    "npukernel.ops",
    "npukernel.ops.functional",
    "npukernel.ops.functional_nn",
    "npukernel.ops.opdef",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
