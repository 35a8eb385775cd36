"""REST routes of the server extension (thin: everything is computed in the kernel).

=========================================  ===============================================
``GET /npukernel/kernels/<id>/usage``      the kernel's ``usage_reply`` (``?interval_s=1
                                           &top=5``): ``{"kernel_id", "npu", "message",
                                           "host"}``; ``npu`` is ``null`` for a kernel
                                           without one ("no NPU"); 404 for an unknown id
``GET /npukernel/deployments``             ``{"deployments": [...]}``: running services
                                           from ``npukernel.deploy`` (empty until that
                                           module exists)
=========================================  ===============================================
"""

from __future__ import annotations

import json
import math
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from npukernel_lab.usage import request_usage, shape_reply


def _float_arg(handler: APIHandler, name: str, default: float, lo: float, hi: float) -> float:
    raw = handler.get_query_argument(name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise web.HTTPError(400, f"'{name}' must be a number, but got {raw!r}.") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise web.HTTPError(400, f"'{name}' must be in [{lo:g}, {hi:g}], but got {raw!r}.")
    return value


class KernelUsageHandler(APIHandler):
    """``GET /npukernel/kernels/<kernel_id>/usage``: forward a control ``usage_request``."""

    @web.authenticated
    async def get(self, kernel_id: str) -> None:
        """Reply with the kernel's usage, NPU counters included when it has them."""
        interval_s = _float_arg(self, "interval_s", 1.0, 0.01, 600.0)
        top = int(_float_arg(self, "top", 5, 0, 50))
        try:
            km = self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            raise web.HTTPError(404, f"No kernel with id {kernel_id!r}.") from None
        content = await request_usage(km, {"interval_s": interval_s, "top": top})
        self.finish(json.dumps(shape_reply(kernel_id, content)))


def list_deployments() -> list[dict[str, Any]]:
    """Running deployments from ``npukernel.deploy`` (``[]`` until that module exists).

    The deploy registry is read through ``npukernel.deploy.list_deployments()``, which
    returns JSON-serialisable dicts (name, url, status, ...).
    """
    try:
        from npukernel import deploy  # type: ignore[attr-defined]
    except ImportError:
        return []
    lister = getattr(deploy, "list_deployments", None)
    return list(lister()) if callable(lister) else []


class DeploymentsHandler(APIHandler):
    """``GET /npukernel/deployments``: the running deployments."""

    @web.authenticated
    def get(self) -> None:
        """Reply with ``{"deployments": [...]}``."""
        self.finish(json.dumps({"deployments": list_deployments()}))


def setup_handlers(web_app: Any) -> None:
    """Add the routes under the server's base URL."""
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, r"npukernel/kernels/([^/]+)/usage"), KernelUsageHandler),
            (url_path_join(base, "npukernel/deployments"), DeploymentsHandler),
        ],
    )
