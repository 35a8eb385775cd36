"""npukernel: a virtual NPU, a MindSpore-style framework and notebook tools in one package.

Example:
    >>> import npukernel as npk
    >>> x = npk.Tensor([[1.0, -2.0]])
    >>> npk.ops.relu(x).asnumpy().tolist()
    [[1.0, 0.0]]
"""

from npukernel import common, dataset, device, errors, graph, nn, ops, profiler
from npukernel.autograd import enable_grad, grad, no_grad, value_and_grad
from npukernel.common.parameter import ParameterTuple
from npukernel.context import GRAPH_MODE, PYNATIVE_MODE, get_context, set_context
from npukernel.dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    single,
    uint8,
)
from npukernel.graph import jit
from npukernel.random import get_seed, set_seed
from npukernel.tensor import Parameter, Tensor

# isort: off
# the framework on top of Tensor (train needs nn and tensor first)
from npukernel import train
from npukernel.serialization import load_checkpoint, load_param_into_net, save_checkpoint
from npukernel.train import Model

# isort: on

__version__ = "0.1.0"

__all__ = [
    "Model", "load_checkpoint", "load_param_into_net", "save_checkpoint", "train",
    "GRAPH_MODE", "PYNATIVE_MODE", "Parameter", "ParameterTuple", "Tensor", "common", "dataset", "nn", "bool_", "device", "double",
    "enable_grad", "errors", "graph", "jit", "get_seed", "set_seed", "float16", "float32", "float64", "get_context", "grad", "half",
    "int8", "int16", "int32", "int64", "no_grad", "ops", "profiler", "set_context", "single",
    "uint8", "value_and_grad",
]  # fmt: skip


def load_ipython_extension(ipython):  # noqa: ANN001, ANN201
    """``%load_ext npukernel``: the ``%npu`` magics (see :mod:`npukernel.notebook`)."""
    from npukernel.notebook import load_ipython_extension as load

    load(ipython)
