"""The examples in the docstrings of npukernel.train and npukernel.serialization run."""

import doctest
import pkgutil

import pytest

import npukernel.train
from tests.doctests import run_examples


def _modules():
    names = ["npukernel.serialization", "npukernel.train"]
    for info in pkgutil.walk_packages(npukernel.train.__path__, "npukernel.train."):
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_examples(name, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
