"""``Cell``: the base class of every layer, loss, optimizer and network (``mindspore.nn.Cell``).

A subclass builds its layers and Parameters in ``__init__`` and computes in
``construct``; calling the cell runs ``construct``. Assigning a Parameter or a Cell to an
attribute registers it, so ``trainable_params()``, ``parameters_dict()`` and checkpoints
find it. Parameter names are dotted paths, as in MindSpore: a ``Dense`` creates
``weight`` and ``bias``; stored as ``self.fc`` in a network they become ``fc.weight`` and
``fc.bias``; a cell built with ``auto_prefix=False`` (``WithLossCell``,
``TrainOneStepCell``, optimizers) leaves the names of what it holds unchanged.

Where we differ from MindSpore: no graph compilation happens here (``npk.jit`` does that),
and ``to_float`` only casts inputs and layer weights (see ``Cell.to_float``).

Example:
    >>> from npukernel import nn
    >>> class Net(nn.Cell):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Dense(4, 2)
    ...     def construct(self, x):
    ...         return self.fc(x)
    >>> list(Net().parameters_dict())
    ['fc.weight', 'fc.bias']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from npukernel import autograd, tracing
from npukernel import context as _context
from npukernel.common.parameter import ParameterTuple
from npukernel.dtypes import as_dtype
from npukernel.errors import DTypeError, NpuError
from npukernel.graph.function import bump_phase, jit
from npukernel.tensor import Parameter, Tensor

_DEFAULT_PARAM_NAME = "Parameter"


class Cell:
    """Base class for networks and their building blocks.

    Args:
        auto_prefix: Whether sub-cells' parameter names get this cell's attribute name as a
            prefix when it is assigned into another cell. Default True.
        flags: Extra attributes to set (MindSpore's network flags).

    Attributes:
        training: Whether the cell is in training mode (``set_train``); False by default,
            as in MindSpore.

    Example:
        >>> from npukernel import nn
        >>> net = nn.SequentialCell([nn.Dense(3, 4), nn.ReLU()])
        >>> [name for name, _ in net.parameters_and_names()]
        ['0.weight', '0.bias']
    """

    def __init__(self, auto_prefix: bool = True, flags: dict | None = None) -> None:
        d = self.__dict__
        d["_params"] = OrderedDict()
        d["_cells"] = OrderedDict()
        d["_tuples"] = {}
        d["_auto_prefix"] = bool(auto_prefix)
        d["_prefix"] = ""
        d["training"] = False
        d["requires_grad"] = False
        d["_mixed_dtype"] = None
        for k, v in (flags or {}).items():
            setattr(self, k, v)

    # -- registration ----------------------------------------------------------------------
    def _registries(self, name: str) -> tuple[OrderedDict, OrderedDict]:
        params = self.__dict__.get("_params")
        if params is None:
            raise NpuError(
                f"For '{type(self).__name__}', call super().__init__() in __init__ before "
                f"assigning attribute '{name}'."
            )
        return params, self.__dict__["_cells"]

    def __setattr__(self, name: str, value: Any) -> None:
        params, cells = self._registries(name)
        if isinstance(value, Parameter):
            self.insert_param_to_cell(name, value)
        elif isinstance(value, Cell):
            self.insert_child_to_cell(name, value)
        elif isinstance(value, ParameterTuple):
            self._forget(name)
            for p in value:
                params[p.name] = p
            self.__dict__["_tuples"][name] = [p.name for p in value]
            object.__setattr__(self, name, value)
        elif value is None and (name in params or name in cells):
            (params if name in params else cells)[name] = None
            object.__setattr__(self, name, None)
        else:
            self._forget(name)
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str = "") -> None:
        """Unregister ``name`` (except from the ``keep`` registry, so a replacement keeps its place)."""
        d = self.__dict__
        if keep != "_params":
            d["_params"].pop(name, None)
        if keep != "_cells":
            d["_cells"].pop(name, None)
        for key in d["_tuples"].pop(name, ()):
            d["_params"].pop(key, None)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def insert_param_to_cell(self, param_name: str, param: Parameter | None,
                             check_name_contain_dot: bool = True) -> None:  # fmt: skip
        """Register ``param`` under ``param_name`` (an unnamed Parameter takes that name).

        Raises:
            NpuError: for an empty name, or one with a dot when ``check_name_contain_dot``.
            DTypeError: if ``param`` is neither a Parameter nor None.
        """
        params, cells = self._registries(param_name)
        if not isinstance(param_name, str) or not param_name:
            raise NpuError(
                f"For 'insert_param_to_cell', the name must be a non-empty str, but got {param_name!r}."
            )
        if check_name_contain_dot and "." in param_name:
            raise NpuError(
                f"For 'insert_param_to_cell', the name must not contain '.', but got '{param_name}'."
            )
        if param is not None and not isinstance(param, Parameter):
            raise DTypeError(
                f"For 'insert_param_to_cell', 'param' must be a Parameter, but got {type(param).__name__}."
            )
        if param is not None and param.name == _DEFAULT_PARAM_NAME:
            param.name = self._prefix + param_name
        self._forget(param_name, keep="_params")
        params[param_name] = param
        object.__setattr__(self, param_name, param)

    def insert_child_to_cell(self, child_name: str, child_cell: Cell | None) -> None:
        """Register ``child_cell`` under ``child_name``; prefix its parameter names if ``auto_prefix``.

        Raises:
            DTypeError: if ``child_cell`` is neither a Cell nor None.
        """
        self._registries(child_name)
        if child_cell is not None and not isinstance(child_cell, Cell):
            raise DTypeError(
                f"For 'insert_child_to_cell', the child must be a Cell, but got {type(child_cell).__name__}."
            )
        self._forget(child_name, keep="_cells")
        self.__dict__["_cells"][child_name] = child_cell
        object.__setattr__(self, child_name, child_cell)
        if child_cell is not None and self._auto_prefix:
            child_cell.update_parameters_name(f"{self._prefix}{child_name}.")

    def update_parameters_name(self, prefix: str = "", recurse: bool = True) -> None:
        """Rename every parameter to ``prefix + <its path in this cell>``.

        The sub-cells remember their prefix, so a cell appended to a nested ``CellList`` later
        still gets its full path (``layers.2.weight``).
        """
        for name, param in self.parameters_and_names(expand=recurse):
            param.name = prefix + name
        cells = self.cells_and_names() if recurse else [("", self)]
        for path, cell in cells:
            cell.__dict__["_prefix"] = f"{prefix}{path}." if path else prefix

    # -- traversal -------------------------------------------------------------------------
    def cells_and_names(
        self, cells: set | None = None, name_prefix: str = ""
    ) -> Iterator[tuple[str, Cell]]:
        """Yield ``(path, cell)`` for this cell (path ``name_prefix``) and every sub-cell, once each."""
        seen = cells if cells is not None else set()
        if id(self) in seen:
            return
        seen.add(id(self))
        yield name_prefix, self
        for name, cell in self._cells.items():
            if cell is not None:
                yield from cell.cells_and_names(
                    seen, f"{name_prefix}.{name}" if name_prefix else name
                )

    def cells(self) -> Iterator[Cell]:
        """The direct sub-cells."""
        return iter([c for c in self._cells.values() if c is not None])

    def name_cells(self) -> OrderedDict:
        """The direct sub-cells by attribute name."""
        return OrderedDict((k, c) for k, c in self._cells.items() if c is not None)

    def parameters_and_names(
        self, name_prefix: str = "", expand: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(path, parameter)`` for each parameter once; paths follow the attribute names.

        ``param.name`` (used by ``parameters_dict`` and checkpoints) equals the path except
        below cells built with ``auto_prefix=False``.
        """
        cells = self.cells_and_names(name_prefix=name_prefix) if expand else [(name_prefix, self)]
        seen: set[int] = set()
        for cell_name, cell in cells:
            for par_name, par in cell._params.items():
                if par is not None and id(par) not in seen:
                    seen.add(id(par))
                    yield (f"{cell_name}.{par_name}" if cell_name else par_name), par

    def get_parameters(self, expand: bool = True) -> Iterator[Parameter]:
        """Yield every parameter once."""
        for _, p in self.parameters_and_names(expand=expand):
            yield p

    def trainable_params(self, recurse: bool = True) -> list[Parameter]:
        """The parameters with ``requires_grad`` (what an optimizer should update)."""
        return [p for p in self.get_parameters(expand=recurse) if p.requires_grad]

    def untrainable_params(self, recurse: bool = True) -> list[Parameter]:
        """The parameters without ``requires_grad`` (BatchNorm's moving statistics...)."""
        return [p for p in self.get_parameters(expand=recurse) if not p.requires_grad]

    def parameters_dict(self, recurse: bool = True) -> OrderedDict:
        """``OrderedDict`` of ``param.name -> Parameter`` (the names checkpoints use)."""
        return OrderedDict((p.name, p) for p in self.get_parameters(expand=recurse))

    # -- modes -----------------------------------------------------------------------------
    def set_train(self, mode: bool = True) -> Cell:
        """Put this cell and every sub-cell in training (``True``) or inference mode."""
        for _, cell in self.cells_and_names():
            cell.__dict__["training"] = bool(mode)
        bump_phase()  # compiled graphs of the other phase must not be replayed
        return self

    def set_grad(self, requires_grad: bool = True) -> Cell:
        """Mark the cell as needing gradients (kept for MindSpore parity; the tape needs no flag)."""
        self.__dict__["requires_grad"] = bool(requires_grad)
        return self

    def to_float(self, dst_type: Any) -> Cell:
        """Run this cell and its sub-cells in ``dst_type`` (float16/float32).

        Float Tensor inputs of every sub-cell are cast to ``dst_type``; ``Dense``, ``Conv2d``
        and ``Embedding`` cast their parameters to the input's dtype, while BatchNorm and
        LayerNorm compute in their parameters' dtype (float32), as MindSpore's mixed precision
        does. Parameters are stored unchanged (float32 master weights), unlike MindSpore's O3.
        The engine has no float16 kernels yet for conv2d, pooling, softmax, cross-entropy and
        dropout, so a float16 network can only use Dense, activations, norms and Embedding.

        Raises:
            DTypeError: if ``dst_type`` is not float16 or float32.
        """
        dt = as_dtype(dst_type, "to_float", "dst_type")
        if dt.name not in ("float16", "float32"):
            raise DTypeError(
                f"For 'to_float', 'dst_type' must be float16 or float32, but got {dt}."
            )
        for _, cell in self.cells_and_names():
            cell.__dict__["_mixed_dtype"] = dt
        bump_phase()
        return self

    # -- running ---------------------------------------------------------------------------
    def construct(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it."""
        raise NotImplementedError(f"For '{type(self).__name__}', 'construct' is not defined.")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``construct`` (casting float inputs first after ``to_float``).

        In GRAPH_MODE a top-level call (not one inside another compiled call, nor one whose
        result ``value_and_grad`` will differentiate) is compiled once per input signature
        by ``npukernel.jit`` and replayed after.
        """
        if (
            _context._settings["mode"] == _context.GRAPH_MODE
            and tracing.state.tracer is None
            and not autograd._mode.differentiating
        ):
            compiled = self.__dict__.get("_compiled")
            if compiled is None:
                compiled = self.__dict__["_compiled"] = jit(self._run, name=self.cls_name)
            return compiled(*args, **kwargs)
        return self._run(*args, **kwargs)

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        dt = self._mixed_dtype
        if dt is not None:
            args = tuple(
                a.astype(dt)
                if isinstance(a, Tensor) and a.dtype.kind == "f" and a.dtype != dt
                else a
                for a in args
            )
        return self.construct(*args, **kwargs)

    # -- display ---------------------------------------------------------------------------
    @property
    def cls_name(self) -> str:
        """The class name (used in error messages)."""
        return type(self).__name__

    def extend_repr(self) -> str:
        """Extra text shown inside ``Name<...>``; layers override it with their arguments."""
        return ""

    def __repr__(self) -> str:
        extra = self.extend_repr()
        info = f"{type(self).__name__}<"
        if self._cells:
            body = "\n"
            if extra:
                body += f"{extra}\n"
            for key, value in self._cells.items():
                body += f"({key}): {value!r}\n"
            return info + body.replace("\n", "\n  ") + ">"
        return info + extra + ">"


def param_as(p: Parameter, x: Tensor) -> Tensor:
    """``p`` cast to ``x``'s float dtype when they differ (after ``to_float``), else ``p``."""
    if p.dtype == x.dtype or x.dtype.kind != "f":
        return p
    return p.astype(x.dtype)
