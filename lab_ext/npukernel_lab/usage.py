"""Ask a running kernel for its usage over the control channel.

``usage_request`` is a standard Jupyter control message (ipykernel answers it with
host, CPU and memory figures); the "Python 3 (NPU)" kernel adds an ``npu`` field with
the virtual NPU's counters. A control message is answered on the kernel's control
thread, so this works while a cell is running.

Example:
    >>> import asyncio  # doctest: +SKIP
    >>> asyncio.run(request_usage(kernel_manager, {"interval_s": 1.0}))  # doctest: +SKIP
    {'hostname': ..., 'pid': ..., 'npu': {'default': 'npu:0', 'devices': {...}}}
"""

from __future__ import annotations

import time
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient

#: Seconds to wait for the reply; a busy control thread answers in milliseconds.
DEFAULT_TIMEOUT_S = 3.0


async def request_usage(
    kernel_manager: Any, content: dict[str, Any] | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any] | None:
    """Send ``usage_request`` to one kernel and return the reply's content.

    Args:
        kernel_manager: The kernel's manager (``MultiKernelManager.get_kernel(id)``).
        content: The request's content; the NPU kernel reads ``interval_s`` and ``top``.
        timeout: Seconds to wait.

    Returns:
        The ``usage_reply`` content, or ``None`` if the kernel did not answer in time
        (a kernel that does not implement ``usage_request``).
    """
    client = AsyncKernelClient()
    client.load_connection_info(kernel_manager.get_connection_info())
    client.start_channels(shell=False, iopub=False, stdin=False, hb=False, control=True)
    try:
        msg = client.session.msg("usage_request", content or {})
        client.control_channel.send(msg)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = await client.control_channel.get_msg(timeout=left)
            except TimeoutError:
                return None
            except Exception as exc:  # queue.Empty in older jupyter_client
                if type(exc).__name__ == "Empty":
                    return None
                raise
            if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"]:
                return reply["content"]
        return None
    finally:
        client.stop_channels()


def shape_reply(kernel_id: str, content: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON the front end gets: ``npu`` (or ``None`` and a reason) plus host figures.

    Example:
        >>> shape_reply("k1", {"pid": 7})["message"]
        'no NPU'
        >>> shape_reply("k1", None)["message"]
        'kernel did not answer usage_request'
    """
    if content is None:
        return {"kernel_id": kernel_id, "npu": None,
                "message": "kernel did not answer usage_request", "host": {}}  # fmt: skip
    host = {k: v for k, v in content.items() if k != "npu"}
    npu = content.get("npu")
    return {"kernel_id": kernel_id, "npu": npu, "message": "ok" if npu else "no NPU",
            "host": host}  # fmt: skip
