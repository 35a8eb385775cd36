"""Pieces shared by the framework, under MindSpore's module paths (``mindspore.common``).

``npukernel.common.initializer`` holds the weight initializers (``from
npukernel.common.initializer import Normal`` as in MindSpore) and
``npukernel.common.parameter`` the ``ParameterTuple`` container.
"""

from npukernel.common import initializer
from npukernel.common.parameter import ParameterTuple

__all__ = ["ParameterTuple", "initializer"]
