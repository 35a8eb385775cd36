import numpy as np
import pytest

import npukernel as npk


@pytest.fixture(autouse=True)
def _default_device():
    npk.set_context(device="npu:0")
    yield
    npk.set_context(device="npu:0")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
