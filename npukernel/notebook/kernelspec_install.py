"""Install the "Python 3 (NPU)" kernel spec where Jupyter looks for kernels.

The wheel ships the spec as ``share/jupyter/kernels/npu`` (hatch ``shared-data``), which
Jupyter finds under ``sys.prefix``. Where data files are not picked up (a ``--user``
install, some conda or system layouts), ``npukernel install-kernel`` copies the same files
with :func:`install_kernel_spec`.

Example:
    >>> from npukernel.notebook.kernelspec_install import spec_dir
    >>> (spec_dir() / "kernel.json").is_file()
    True
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

#: The kernel spec's name: ``jupyter kernelspec list`` shows it, notebooks store it.
KERNEL_NAME = "npu"

#: What Jupyter shows in the launcher and the kernel picker.
DISPLAY_NAME = "Python 3 (NPU)"


def spec_dir() -> Path:
    """Return the folder of the packaged kernel spec (``kernel.json`` and logo).

    Example:
        >>> spec_dir().name
        'kernelspec'
    """
    return Path(__file__).with_name("kernelspec")


def install_kernel_spec(
    user: bool = False,
    prefix: str | None = None,
    name: str = KERNEL_NAME,
    display_name: str | None = None,
    executable: str | None = None,
) -> str:
    """Install the kernel spec and return the folder it went to.

    Args:
        user: Install for the current user (``~/.local/share/jupyter/kernels``).
        prefix: Install under ``PREFIX/share/jupyter/kernels`` (``sys.prefix`` for
            ``--sys-prefix``); by default the system-wide Jupyter data folder.
        name: Kernel spec name.
        display_name: Shown in Jupyter; defaults to "Python 3 (NPU)".
        executable: Python to start the kernel with; defaults to this interpreter, so a
            user-level spec keeps pointing at the environment npukernel lives in.

    Returns:
        The installed kernel spec folder.

    Example:
        >>> install_kernel_spec(prefix="/tmp/npk-prefix")  # doctest: +SKIP
        '/tmp/npk-prefix/share/jupyter/kernels/npu'
    """
    from jupyter_client.kernelspec import KernelSpecManager

    spec = json.loads((spec_dir() / "kernel.json").read_text())
    spec["argv"][0] = executable or sys.executable
    if display_name:
        spec["display_name"] = display_name
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / name
        shutil.copytree(spec_dir(), staged)
        (staged / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
        return KernelSpecManager().install_kernel_spec(
            str(staged), kernel_name=name, user=user, prefix=prefix
        )
