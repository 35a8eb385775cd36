"""The examples in the device layer's docstrings are run, so they stay true."""

import pytest

from tests.doctests import run_examples

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
    result = run_examples(name)
    assert result.failed == 0
