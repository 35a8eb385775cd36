"""The examples in the device layer's docstrings are run, so they stay true."""

import doctest
import importlib

import pytest

MODULES = [
    "npukernel.device",
    "npukernel.device.dtypes",
    "npukernel.device.profiles",
    "npukernel.device.cost",
    "npukernel.device.formats",
    "npukernel.device.memory",
    "npukernel.device.core",
    "npukernel.profiler",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, clean_devices):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
