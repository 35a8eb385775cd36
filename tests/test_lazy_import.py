"""``kernels.lazy``: a module loaded on first use, once, even when threads race for it."""

from __future__ import annotations

import sys
import threading

from npukernel.kernels import lazy

SLOW_MODULE = """
import time
import {counter}
{counter}.LOADS.append(1)
time.sleep(0.2)  # a numba import takes this long: the other threads arrive meanwhile
VALUE = 42
def twice(x):
    return 2 * x
"""


def test_threads_racing_for_a_lazy_module_all_see_it_whole(tmp_path, monkeypatch) -> None:
    name = "npk_lazy_slow_mod"
    (tmp_path / "npk_lazy_counter.py").write_text("LOADS = []\n")
    (tmp_path / f"{name}.py").write_text(SLOW_MODULE.format(counter="npk_lazy_counter"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    mod = lazy(name)
    assert lazy(name) is mod  # one module object, filed in sys.modules
    start = threading.Barrier(6)
    got, errors = [], []

    def use() -> None:
        start.wait()
        try:
            got.append((mod.VALUE, mod.twice(3)))
        except Exception as exc:  # noqa: BLE001 - the failure this test guards against
            errors.append(repr(exc))

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import npk_lazy_counter

    assert errors == []
    assert got == [(42, 6)] * 6
    assert npk_lazy_counter.LOADS == [1]  # the module's code ran once
    assert type(mod) is type(sys)  # a plain module now: no lock on later accesses
    monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "npk_lazy_counter")


def test_a_lazy_module_set_before_use_keeps_the_new_value(tmp_path, monkeypatch) -> None:
    name = "npk_lazy_patch_mod"
    (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = lazy(name)
    mod.VALUE = 2  # runs the module first, so its code cannot overwrite this
    assert mod.VALUE == 2
    monkeypatch.delitem(sys.modules, name)
