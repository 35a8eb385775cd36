"""Notebook tools: the NPU kernel, ``%npu`` magics and widgets.

Everything that imports IPython, ipywidgets or Jupyter lives here; the layers below run
without them. Widgets are imported on first use, so the kernel starts without loading
anywidget.

- ``%load_ext npukernel`` (or the "Python 3 (NPU)" kernel) gives the ``%npu`` and
  ``%%npu_profile`` magics (:mod:`npukernel.notebook.magics`).
- :class:`~npukernel.notebook.kernel.NPUKernel` answers ``usage_request`` with live NPU
  counters (:mod:`npukernel.notebook.kernel`).
- :class:`ProfileView` and :class:`TrainingMonitor` are widgets.

Example:
    >>> from npukernel.notebook import install_kernel_spec  # doctest: +SKIP
    >>> install_kernel_spec(user=True)  # doctest: +SKIP
    '/root/.local/share/jupyter/kernels/npu'
"""

from __future__ import annotations

from typing import Any

from npukernel.notebook.kernelspec_install import KERNEL_NAME, install_kernel_spec

__all__ = [
    "KERNEL_NAME",
    "ProfileView",
    "TrainingMonitor",
    "install_kernel_spec",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_LAZY = {
    "ProfileView": "npukernel.notebook.profile_view",
    "TrainingMonitor": "npukernel.notebook.monitor",
}


def __getattr__(name: str) -> Any:
    # Widgets need the lab extra (anywidget, ipywidgets): import them only when asked.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'npukernel.notebook' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%npu`` magics (called by ``%load_ext npukernel``)."""
    from npukernel.notebook.magics import NPUMagics

    ipython.register_magics(NPUMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: magics stay registered, as IPython's own extensions do."""
