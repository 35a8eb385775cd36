"""npukernel-lab: the JupyterLab side of npukernel.

Two parts ship in one wheel:

- a prebuilt JupyterLab 4 extension (``share/jupyter/labextensions/npukernel-lab``): a
  status-bar item "NPU 0 · 1.2/32 GiB · 37%" for the current notebook's kernel and an
  "NPU" side panel (devices with memory and utilisation sparklines, top ops measured and
  estimated, running deployments);
- a thin Jupyter Server extension (:mod:`npukernel_lab.handlers`) with the REST routes
  the front end polls.

Example (after ``pip install ./lab_ext``)::

    jupyter labextension list     # npukernel-lab v0.1.0 enabled OK (python, npukernel_lab)
    jupyter server extension list # npukernel_lab enabled
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "npukernel-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "npukernel_lab"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the REST routes (Jupyter Server calls this at start)."""
    from npukernel_lab.handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("npukernel_lab: /npukernel/kernels/<id>/usage registered")
