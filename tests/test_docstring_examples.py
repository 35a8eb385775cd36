"""The examples in the core, dataset and notebook modules' docstrings are run, so they stay true.

(The other packages have their own lists: tests/{device,graph,kernels,nn,ops}/ and
tests/train/test_docstrings.py.)
"""

import doctest
import importlib

import pytest

import npukernel as npk

MODULES = [
    "npukernel", "npukernel.autograd", "npukernel.cli", "npukernel.context", "npukernel.dtypes",
    "npukernel.errors", "npukernel.random", "npukernel.serialization", "npukernel.tensor",
    "npukernel.device.host_allocator",
    "npukernel.dataset", "npukernel.dataset.config", "npukernel.dataset.core",
    "npukernel.dataset.errors", "npukernel.dataset.integrity", "npukernel.dataset.registry",
    "npukernel.dataset.shapes", "npukernel.dataset.sources", "npukernel.dataset.transforms",
    "npukernel.dataset.vision", "npukernel.dataset.xarray_io",
    # npukernel.notebook and .magics: their examples install a kernel spec or need IPython
    "npukernel.notebook.curves", "npukernel.notebook.kernel",
    "npukernel.notebook.kernelspec_install",
    "npukernel.notebook.monitor", "npukernel.notebook.monitor_png",
    "npukernel.notebook.profile_data", "npukernel.notebook.profile_view",
    "npukernel.notebook.report", "npukernel.notebook.usage",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    npk.set_seed(0)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
