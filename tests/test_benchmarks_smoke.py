"""The benchmark scripts run end to end on the npukernel side (no .bench-venv needed)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str) -> str:
    out = subprocess.run([sys.executable, str(BENCH / script), "--models", "mlp", "--chunks", "1", *args],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.slow
def test_infer_npukernel_side():
    out = _run("infer.py", "--side", "npukernel")
    assert "batch-1 latency" in out and "batch-64 throughput" in out
    assert "PYNATIVE" in out and "GRAPH" in out


@pytest.mark.slow
def test_train_npukernel_side():
    out = _run("train.py", "--side", "npukernel")
    assert "mlp-b64" in out and "GRAPH 1st" in out


@pytest.mark.slow
def test_startup_warm_only():
    out = _run("startup.py", "--cold", "0")
    assert "import npukernel:" in out
    assert "pynative" in out and "graph" in out
