"""The examples in the kernel, operator, core, dataset and notebook modules' docstrings run.

So they stay true. (Device, graph, nn and train have their own lists:
tests/{device,graph,nn}/test_docstring_examples.py and tests/train/test_docstrings.py.)
"""

import pytest

import npukernel as npk
from npukernel.kernels import simd
from tests.doctests import run_examples

MODULES = [
    "npukernel", "npukernel.autograd", "npukernel.cli", "npukernel.context", "npukernel.dtypes",
    "npukernel.errors", "npukernel.random", "npukernel.serialization", "npukernel.tensor",
    "npukernel.device.host_allocator",
    "npukernel.kernels", "npukernel.kernels.blas", "npukernel.kernels.conv", "npukernel.kernels.conv_implicit",
    "npukernel.kernels.dense",
    "npukernel.kernels.pool",
    # the SIMD tiles have no Python body: their example needs the JIT
    *(["npukernel.kernels.simd"] if simd.AVAILABLE else []),
    "npukernel.ops", "npukernel.ops.functional", "npukernel.ops.functional_nn",
    "npukernel.ops.opdef",
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
    result = run_examples(name)
    assert result.attempted > 0 and result.failed == 0
