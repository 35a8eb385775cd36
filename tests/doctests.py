"""Running a module's docstring examples, for the test_docstring_examples files."""

import doctest
import importlib


def run_examples(name: str, flags: int = doctest.ELLIPSIS) -> doctest.TestResults:
    """Import module ``name`` and run its docstring examples; return the counts."""
    return doctest.testmod(importlib.import_module(name), optionflags=flags)
