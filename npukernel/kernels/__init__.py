"""numba kernels: templates (elementwise, reduce) and tuned kernels (conv, pool, norm...).

Kernel modules import numba, which takes a few hundred milliseconds; the operator layer
reaches them through :func:`lazy` so ``import npukernel`` stays quick and numba loads on
the first kernel launch.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from types import ModuleType

# numba's OpenMP workers spin after each parallel region by default, stealing one of the
# two cores from OpenBLAS and the Python thread; sleeping workers cost a few microseconds
# of wake-up instead. Set before numba loads; an explicit user setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class _LazyModule(ModuleType):
    """A module whose code runs on its first attribute access, once, whichever thread asks.

    ``importlib.util.LazyLoader`` (Python 3.11) is not thread-safe: a second thread that
    touches the module while the first is still running its code sees a half-filled
    module (``AttributeError: ... has no attribute 'dense_small'``, seen when two threads
    ran their first inference at once). Here the first access runs the module's code under
    a lock, the others wait for it, and the module then turns into a plain one, so later
    accesses cost nothing extra.
    """

    def __getattribute__(self, attr: str):  # noqa: ANN204
        d = object.__getattribute__(self, "__dict__")
        with d["_npk_lock"]:
            if type(self) is _LazyModule:
                if not d.get("_npk_loading"):  # else: an import cycle in this thread
                    d["_npk_loading"] = True
                    try:
                        d["__spec__"].loader.exec_module(self)
                        object.__setattr__(self, "__class__", ModuleType)
                    finally:
                        d.pop("_npk_loading", None)
        return object.__getattribute__(self, attr)

    def __setattr__(self, attr: str, value: object) -> None:
        self.__getattribute__("__name__")  # load first, so the code cannot overwrite it
        object.__setattr__(self, attr, value)

    def __delattr__(self, attr: str) -> None:
        self.__getattribute__("__name__")
        object.__delattr__(self, attr)


_LOAD_LOCK = threading.Lock()  # guards sys.modules while a lazy module is made


def lazy(name: str) -> ModuleType:
    """Import module ``name`` on first attribute access (thread-safe).

    Example:
        >>> json = lazy("json")
        >>> json.dumps([1])
        '[1]'
    """
    module = sys.modules.get(name)
    if module is not None:
        return module
    with _LOAD_LOCK:
        module = sys.modules.get(name)
        if module is not None:
            return module
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        module.__dict__["_npk_lock"] = threading.RLock()  # one per module: loads run apart
        object.__setattr__(module, "__class__", _LazyModule)
        sys.modules[name] = module
    return module


def package_only(name: str, path: str) -> None:
    """Refuse to load kernel module ``path`` under a name outside the package.

    ``python -m doctest npukernel/kernels/dense.py`` imports the file as a top-level
    module ``dense``. numba's on-disk cache keys kernels by file, not by module, and the
    entries it writes then name ``dense``, so the package's own later loads of them fail
    (``ModuleNotFoundError: No module named 'dense'``) until the cache files are deleted.
    With ``NUMBA_DISABLE_JIT=1`` nothing is cached and the file may run on its own.

    Example:
        >>> package_only("npukernel.kernels.dense", "npukernel/kernels/dense.py")
    """
    if name.startswith("npukernel.") or os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return
    raise ImportError(
        f"{path} was imported as the module {name!r}, outside the npukernel package. Its "
        "numba kernels cache machine code on disk, and entries written under that name "
        "would break npukernel's own use of them later. Run its examples with "
        f"`python -m pytest --doctest-modules {path}`, import it as npukernel.kernels."
        f"{os.path.splitext(os.path.basename(path))[0]}, or set NUMBA_DISABLE_JIT=1 to step "
        "through the kernels as plain Python."
    )


def deferred(module: ModuleType, name: str):  # noqa: ANN201
    """A function that calls ``module.name``, looking it up (and importing) on first call."""

    def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return getattr(module, name)(*args, **kwargs)

    call.__name__ = name
    call.__qualname__ = name
    return call
