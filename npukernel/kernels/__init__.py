"""numba kernels: templates (elementwise, reduce) and tuned kernels (conv, pool, norm...).

Kernel modules import numba, which takes a few hundred milliseconds; the operator layer
reaches them through :func:`lazy` so ``import npukernel`` stays quick and numba loads on
the first kernel launch.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

# numba's OpenMP workers spin after each parallel region by default, stealing one of the
# two cores from OpenBLAS and the Python thread; sleeping workers cost a few microseconds
# of wake-up instead. Set before numba loads; an explicit user setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def lazy(name: str) -> ModuleType:
    """Import module ``name`` on first attribute access (``importlib.util.LazyLoader``)."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def deferred(module: ModuleType, name: str):  # noqa: ANN201
    """A function that calls ``module.name``, looking it up (and importing) on first call."""

    def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return getattr(module, name)(*args, **kwargs)

    call.__name__ = name
    call.__qualname__ = name
    return call
