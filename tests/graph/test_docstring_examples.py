"""The examples in graph mode's docstrings are run, so they stay true."""

import doctest
import importlib

import pytest

MODULES = [
    "npukernel.tracing",
    "npukernel.graph",
    "npukernel.graph.ir",
    "npukernel.graph.tracer",
    "npukernel.graph.passes",
    "npukernel.graph.fusion",
    "npukernel.graph.memory",
    "npukernel.graph.compiler",
    "npukernel.graph.function",
    "npukernel.graph.show",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
