"""Acceptance: the recipes of benchmarks/train_accuracy.py reach their accuracy targets.

The benchmark script reports the training time; these tests only assert accuracy
(seeded with ``npk.set_seed``, so every run gives the same number).
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _recipes():
    spec = importlib.util.spec_from_file_location(
        "train_accuracy", ROOT / "benchmarks" / "train_accuracy.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_mlp_on_digits_reaches_95_percent():
    result = _recipes().run("mlp", seed=0)
    assert result["accuracy"] >= 0.95, result


@pytest.mark.slow
def test_lenet_on_mnist5k_reaches_97_percent():
    result = _recipes().run("lenet", seed=0)
    assert result["accuracy"] >= 0.97, result
    assert result["history"].sizes["epoch"] == result["epochs"]
