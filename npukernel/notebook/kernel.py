"""``NPUKernel``: ipykernel with the ``npukernel`` extension and live NPU counters.

The kernel spec "Python 3 (NPU)" (``share/jupyter/kernels/npu``) starts this module.
It is ipykernel's ``IPythonKernel`` with two differences:

- the ``npukernel`` IPython extension (the ``%npu`` magics) is loaded at start;
- a ``usage_request`` on the control channel is answered with ipykernel's own fields
  (``hostname``, ``pid``, ``kernel_cpu``, ``kernel_memory``, ``cpu_count``, ...) plus an
  ``npu`` field: every device's memory, utilisation, launches and top ops
  (:func:`npukernel.notebook.usage.npu_usage`).

ipykernel 7 serves the control channel on its own thread, so the reply arrives while a
cell is running; that is what lets the JupyterLab panel move during training. The
counters are read from snapshots (see :mod:`npukernel.device.core`), so the control
thread never waits for the kernel's thread.

Example (from a terminal)::

    python -m npukernel.notebook.kernel -f /tmp/kernel-1.json
"""

from __future__ import annotations

import os
import socket
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp

from npukernel.notebook.usage import npu_usage


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:  # psutil is optional for ipykernel too
        return None
    return psutil


class NPUKernel(IPythonKernel):
    """IPython kernel whose ``usage_reply`` also carries the virtual NPU's counters.

    Example:
        >>> NPUKernel.implementation
        'npukernel'
    """

    implementation = "npukernel"
    implementation_version = "0.1.0"
    banner = "Python 3 (NPU): IPython with the npukernel virtual NPU; %npu for devices."

    def host_usage(self) -> dict[str, Any]:
        """Return ipykernel's usage fields: host, pid, kernel CPU and memory, host CPU and memory.

        Mirrors ``ipykernel.kernelbase.Kernel.usage_request`` (which sends its reply
        itself and so cannot be extended by calling it).
        """
        content: dict[str, Any] = {"hostname": socket.gethostname(), "pid": os.getpid()}
        psutil = _psutil()
        if psutil is None:
            content["cpu_count"] = os.cpu_count()
            return content
        current = psutil.Process()
        known = getattr(self, "processes", {})
        procs = [current, *current.children(recursive=True)]
        self.processes = {p.pid: known.get(p.pid, p) for p in procs}
        metric = self.get_process_metric_value
        content["kernel_cpu"] = sum(metric(p, "cpu_percent", None) for p in self.processes.values())
        kind = "pss" if hasattr(current.memory_full_info(), "pss") else "rss"
        content["kernel_memory"] = sum(
            metric(p, "memory_full_info", kind) for p in self.processes.values()
        )
        host_cpu = psutil.cpu_percent()
        if host_cpu:  # the first call returns a meaningless 0.0
            content["host_cpu_percent"] = host_cpu
        content["cpu_count"] = psutil.cpu_count(logical=True)
        content["host_virtual_memory"] = dict(psutil.virtual_memory()._asdict())
        return content

    def usage_content(self, request: dict[str, Any] | None = None) -> dict[str, Any]:
        """The full ``usage_reply`` content: :meth:`host_usage` plus the ``npu`` field.

        Args:
            request: The request's content (``interval_s``, ``top``; both optional).
        """
        try:
            content = self.host_usage()
        except Exception as exc:  # a dying child process must not lose the NPU reply
            content = {"hostname": socket.gethostname(), "pid": os.getpid(), "error": str(exc)}
        content["npu"] = npu_usage(request)
        return content

    async def usage_request(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        """Answer a control-channel ``usage_request`` (runs on the control thread)."""
        if not self.session:
            return
        content = self.usage_content(parent.get("content") or {})
        msg = self.session.send(stream, "usage_reply", content, parent, ident)
        self.log.debug("%s", msg)


def main() -> None:
    """Start the kernel with the ``npukernel`` extension loaded (the kernel spec's argv)."""
    IPKernelApp.launch_instance(kernel_class=NPUKernel, extensions=["npukernel"])


if __name__ == "__main__":
    main()
