"""The examples in graph mode's docstrings are run, so they stay true."""

import pytest

from tests.doctests import run_examples

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
    result = run_examples(name)
    assert result.attempted > 0 and result.failed == 0
