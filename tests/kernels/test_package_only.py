"""A kernel module run as a file is refused before numba caches anything under its name.

``python -m doctest npukernel/kernels/dense.py`` imports the file as a top-level module
``dense``; numba's on-disk cache keys kernels by file, so entries it wrote then would name
``dense`` and break the package's own loads of them (``No module named 'dense'``).
"""

import os
import subprocess
import sys
from pathlib import Path

import npukernel.kernels.dense as dense_module

KERNEL_FILE = Path(dense_module.__file__)
ROOT = KERNEL_FILE.parents[2]


def _cache_files() -> set[str]:
    cache = KERNEL_FILE.parent / "__pycache__"
    return {p.name for p in cache.glob("dense.*.nb*")} if cache.exists() else set()


def _doctest_as_file(env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "doctest", str(KERNEL_FILE)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_running_a_kernel_file_as_a_module_is_refused_with_what_to_do():
    before = _cache_files()
    out = _doctest_as_file({"NUMBA_DISABLE_JIT": "0"})
    assert out.returncode != 0
    assert "outside the npukernel package" in out.stderr
    assert "python -m pytest --doctest-modules" in out.stderr
    assert _cache_files() == before  # nothing was compiled under the name 'dense'


def test_without_the_jit_a_kernel_file_may_run_on_its_own():
    # nothing is cached then: students step through the kernels as plain Python
    out = _doctest_as_file({"NUMBA_DISABLE_JIT": "1"})
    assert out.returncode == 0, out.stderr
