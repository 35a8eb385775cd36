"""Turn generated kernel source into importable, cacheable numba kernels.

numba caches compiled machine code only for functions that live in a real source file,
so generated kernels (elementwise templates, fused graph kernels) are written to
``$NPUKERNEL_CACHE_DIR`` (default ``~/.cache/npukernel/kernels``) under a name derived
from a hash of their source, then imported. A second session finds both the file and
numba's compiled code in ``__pycache__`` beside it and starts warm. The files are
ordinary Python: open one to read the loop, or set ``NUMBA_DISABLE_JIT=1`` and step
into it with a debugger.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

_MODULES: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Directory where generated kernel sources live."""
    root = os.environ.get("NPUKERNEL_CACHE_DIR")
    path = Path(root) if root else Path.home() / ".cache" / "npukernel" / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_source(prefix: str, source: str) -> ModuleType:
    """Write ``source`` to a file named by its hash (once) and import it as a module.

    Args:
        prefix: readable part of the module name, e.g. ``"unary_relu"``.
        source: full Python source of the module.

    Returns:
        The imported module (memoised per source in this process).
    """
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    name = f"npk_{prefix}_{digest}"
    module = _MODULES.get(name)
    if module is not None:
        return module
    path = cache_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _MODULES[name] = module
    return module
