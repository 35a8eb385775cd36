"""The examples in npukernel.nn's and npukernel.common's docstrings are run, so they stay true."""

import pytest

import npukernel as npk
from tests.doctests import run_examples

MODULES = [
    "npukernel.common.initializer", "npukernel.common.parameter", "npukernel.nn",
    "npukernel.nn.cell", "npukernel.nn.layer.activation", "npukernel.nn.layer.basic",
    "npukernel.nn.layer.container", "npukernel.nn.layer.conv", "npukernel.nn.layer.embedding",
    "npukernel.nn.layer.norm", "npukernel.nn.layer.pooling", "npukernel.nn.loss",
    "npukernel.nn.learning_rate_schedule", "npukernel.nn.dynamic_lr", "npukernel.nn.optim.optimizer",
    "npukernel.nn.optim.sgd", "npukernel.nn.optim.momentum", "npukernel.nn.optim.adam",
    "npukernel.nn.wrap",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    npk.set_seed(0)
    result = run_examples(name)
    assert result.failed == 0
