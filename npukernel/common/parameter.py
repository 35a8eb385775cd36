"""``ParameterTuple``: a tuple of uniquely named Parameters (``mindspore.ParameterTuple``).

Optimizers keep their state in ParameterTuples made with ``clone(prefix, init)``, so the
state of ``fc.weight`` is a Parameter named ``moments.fc.weight`` that a checkpoint saves
and restores like any other.

Example:
    >>> import npukernel as npk
    >>> from npukernel.common.parameter import ParameterTuple
    >>> w = npk.Parameter(npk.Tensor([1.0, 2.0]), name="w")
    >>> [p.name for p in ParameterTuple([w]).clone("moments", "zeros")]
    ['moments.w']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from npukernel.errors import DTypeError, NpuError
from npukernel.tensor import Parameter


class ParameterTuple(tuple):
    """An immutable tuple of Parameters whose names are unique.

    Args:
        iterable: Parameters (the same Parameter twice is kept once).

    Raises:
        DTypeError: if an element is not a Parameter.
        NpuError: if two different Parameters share a name.
    """

    def __new__(cls, iterable: Iterable[Any] = ()) -> ParameterTuple:
        """Build the tuple, dropping repeats of one Parameter and refusing duplicate names."""
        seen: set[int] = set()
        names: set[str] = set()
        items = []
        for p in iterable:
            if not isinstance(p, Parameter):
                raise DTypeError(
                    f"For 'ParameterTuple', every element must be a Parameter, but got {type(p).__name__}."
                )
            if id(p) in seen:
                continue
            if p.name in names:
                raise NpuError(
                    f"For 'ParameterTuple', the name '{p.name}' is used by two different Parameters; "
                    "give each Parameter a unique name (put them in a Cell, or pass name=...)."
                )
            seen.add(id(p))
            names.add(p.name)
            items.append(p)
        return super().__new__(cls, items)

    def clone(self, prefix: str, init: Any = "same") -> ParameterTuple:
        """New Parameters named ``prefix.<name>``, filled by ``init`` (``"same"`` copies the values).

        Args:
            prefix: Name prefix, e.g. ``"moments"``.
            init: ``"same"``, or anything ``initializer`` takes (``"zeros"``...).

        Returns:
            A ParameterTuple of the clones (``requires_grad=False``: they are state, not weights).
        """
        from npukernel.common.initializer import initializer

        out = []
        for p in self:
            data = p.copy() if init == "same" else initializer(init, p.shape, p.dtype)
            out.append(Parameter(data, f"{prefix}.{p.name}", requires_grad=False, device=p.device))
        return ParameterTuple(out)

    def __repr__(self) -> str:
        return f"ParameterTuple({', '.join(p.name for p in self)})"
