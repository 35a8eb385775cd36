"""Start a real Jupyter server (or JupyterLab) on a free loopback port for tests.

Token-less, loopback only, ``--allow-root`` when running as root, with its own runtime,
workspace and settings folders so no user state leaks in, and no update/news checks
(nothing may be fetched at run time).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def get(self, path: str, timeout: float = 30):
        return self.request("GET", path, timeout=timeout)


@contextmanager
def jupyter(root_dir: Path, state_dir: Path, app: str = "server", startup_s: float = 90):
    """Run ``jupyter server`` or ``jupyter lab`` in ``root_dir``; yield a :class:`Server`."""
    port = free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    module = {"server": "jupyter_server", "lab": "jupyterlab"}[app]
    args = [
        sys.executable, "-m", module, "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        "--IdentityProvider.token=", "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.port_retries=0",
    ]  # fmt: skip
    if app == "lab":
        _quiet_lab_settings(state_dir / "settings")
        args += [
            f"--LabApp.workspaces_dir={state_dir / 'workspaces'}",
            f"--LabApp.user_settings_dir={state_dir / 'settings'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
        ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state_dir / "runtime"), "PYTHONUNBUFFERED": "1"}
    log = state_dir / f"{app}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited:\n{log.read_text()[-3000:]}")
            try:
                if server.get("/api/status", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter {app} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield server
    finally:
        for kernel in _safe_kernels(server):
            server.request("DELETE", f"/api/kernels/{kernel['id']}", timeout=10)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _quiet_lab_settings(settings: Path) -> None:
    # No "get notified about Jupyter news?" toast over the page, no update checks.
    folder = settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def _safe_kernels(server: Server) -> list[dict]:
    try:
        status, found = server.get("/api/kernels", timeout=5)
    except OSError:
        return []
    return found if status == 200 and isinstance(found, list) else []
