"""Graph passes that do not generate code: dead code, constants, BatchNorm folding.

Each pass takes the graph and the arrays seen while tracing and changes the graph in
place; ``npukernel.graph.compile`` runs them in this order, then fusion, then memory
planning::

    fold_constants     node whose inputs are all constants -> its traced result
    fold_batch_norm    batch_norm_eval(x, mean, var, gamma, beta) -> x * scale + shift
    fuse_conv_affine   relu?(conv2d(x, w) * scale + shift [+ r]) -> conv2d_affine[_add](...),
                       conv2d_bn[_add](...) when scale and shift are a folded BatchNorm's
    fuse_relu          relu(batch_norm_train(x)) -> batch_norm_train_relu(x), same for conv2d
    eliminate_dead     nodes whose results nobody reads (host updates always stay)
    drop_unused_saves  max_pool2d whose argmax no gradient reads -> max_pool2d_values
    fuse_conv_pool     max_pool2d_values(conv2d[_relu|_affine](x, w), 2, 2) -> conv2d_maxpool

Example:
    >>> import npukernel as npk
    >>> from npukernel.graph.tracer import trace
    >>> tr, _ = trace(lambda x: x * (npk.Tensor(2.0) + 1), (npk.Tensor([1.0]),))
    >>> fold_constants(tr.graph, tr.trace_arrays)
    1
    >>> [n.name for n in tr.graph.nodes]
    ['mul']
"""

from __future__ import annotations

import numpy as np

from npukernel.graph.ir import CONST, NODE, Graph, Node, Value
from npukernel.ops.opdef import OPS, RANDOM


def fold_constants(graph: Graph, arrays: dict) -> int:
    """Replace nodes that read only constants by their (traced) results; return the count."""
    folded = 0
    kept = []
    users = graph.users()
    for node in graph.nodes:
        foldable = (
            node.op is not None
            and node.op.group != RANDOM
            and not node.fresh_seed
            and all(v.kind == CONST for v in node.reads())
            and (node.saved is None or node.saved.id not in users)
        )
        if not foldable:
            kept.append(node)
            continue
        for v in node.outputs:
            v.kind, v.producer = CONST, None
            v.const = np.array(arrays[v.id], copy=True)
            graph.consts.append(v)
        folded += 1
    graph.nodes = kept
    return folded


def eliminate_dead(graph: Graph) -> int:
    """Drop nodes none of whose results are read; return how many were dropped."""
    live = {v.id for v in graph.outputs}
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        if node.is_host or any(v.id in live for v in node.produces()):
            kept.append(node)
            live.update(v.id for v in node.reads())
    dropped = len(graph.nodes) - len(kept)
    kept.reverse()
    graph.nodes = kept
    return dropped


def _op_node(graph: Graph, name: str, inputs: list[Value], attrs: dict, shape: tuple,
             dtype: str, site: str, device: object) -> Node:  # fmt: skip
    out = graph.new_value(NODE, shape, dtype)
    node = Node(name, OPS[name], inputs, attrs, [out], site=site, device=device)
    out.producer = node
    return node


def fold_batch_norm(graph: Graph) -> int:
    """Rewrite inference BatchNorm as a per-channel affine the fuser can merge.

    ``batch_norm_eval(x, mean, var, gamma, beta)`` becomes
    ``x * scale + shift`` with ``scale = gamma * rsqrt(var + eps)`` and
    ``shift = beta - mean * scale``: two tiny per-channel computations and two
    elementwise operations that fuse with the ReLU (and residual add) around them, so the
    activations are read once instead of once per operator. The statistics are read live,
    so a checkpoint loaded later is still honoured. Returns how many were rewritten.
    """
    out: list[Node] = []
    count = 0
    for node in graph.nodes:
        if node.name != "batch_norm_eval" or node.dyn_attrs or node.outputs[0].dtype == "float16":
            out.append(node)
            continue
        out.extend(_affine_from_batch_norm(graph, node))
        count += 1
    graph.nodes = out
    return count


def _affine_from_batch_norm(graph: Graph, node: Node) -> list[Node]:
    x, mean, var, gamma, beta = node.inputs
    y = node.outputs[0]
    c = x.shape[1]
    bshape = (1, c) + (1,) * (len(x.shape) - 2)
    dt = y.dtype
    eps = graph.new_value(CONST, (), dt, const=np.array(node.attrs["eps"], dt))
    graph.consts.append(eps)
    steps: list[Node] = []

    def emit(name: str, ins: list, shape: tuple, attrs: dict | None = None) -> Value:
        n = _op_node(graph, name, ins, attrs or {}, shape, dt, node.site, node.device)
        steps.append(n)
        return n.outputs[0]

    inv = emit("rsqrt", [emit("add", [var, eps], (c,))], (c,))
    scale = emit("mul", [gamma, inv], (c,))
    shift = emit("sub", [beta, emit("mul", [mean, scale], (c,))], (c,))
    scale4 = emit("reshape", [scale], bshape, {"shape": bshape})
    shift4 = emit("reshape", [shift], bshape, {"shape": bshape})
    scaled = emit("mul", [x, scale4], x.shape)
    last = _op_node(graph, "add", [scaled, shift4], {}, x.shape, dt, node.site, node.device)
    # the last step takes over the BatchNorm's output value, so its readers are unchanged
    last.outputs = [y]
    y.producer = last
    steps.append(last)
    return steps


# Producers a following ReLU folds into, and the fused operator each becomes.
RELU_FUSIONS = {
    "batch_norm_train": "batch_norm_train_relu",
    "conv2d": "conv2d_relu",
    "dense": "dense_relu",
}


def fuse_relu(graph: Graph) -> int:
    """Merge a training BatchNorm, a convolution or a dense layer and the ReLU after it.

    ``r = relu(batch_norm_train(x)[0])`` becomes ``r = batch_norm_train_relu(x)[0]``,
    ``relu(conv2d(x, w))`` becomes ``conv2d_relu(x, w)`` and ``relu(dense(x, w, b))``
    becomes ``dense_relu(x, w, b)`` (:data:`RELU_FUSIONS`), when the ReLU alone reads it: the
    producer writes ``max(y, 0)`` and the ReLU's own pass over the activations (read
    ``y``, write ``r``) disappears. The backward's ``relu_grad(y, dr)`` reads ``r``
    instead (``r > 0`` exactly where ``y > 0``), so ``y`` is never materialised; the
    producers' own gradients need their inputs, not ``y``. A training BatchNorm followed
    by a residual add and a ReLU (the end of a ResNet block) becomes
    ``batch_norm_train_add_relu(x, ..., residual)`` the same way, when the residual is
    ready before the BatchNorm runs. Applies only when nothing else reads ``y`` (a graph
    output, another operator). Returns the count.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn, ops
        >>> from npukernel.graph.tracer import trace
        >>> bn = nn.BatchNorm2d(2).set_train()
        >>> x = npk.Tensor(np.ones((2, 2, 1, 1), np.float32))
        >>> tr, _ = trace(lambda x: ops.relu(bn(x)), (x,))
        >>> fuse_relu(tr.graph)
        1
        >>> [n.name for n in tr.graph.nodes if n.op is not None]
        ['batch_norm_train_relu']
    """
    users = graph.users()
    outputs = {v.id for v in graph.outputs}
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    dropped: set[int] = set()
    count = 0

    def relu_readers(v: Value) -> tuple[Node, list[Node]] | None:
        """The one ``relu`` reading ``v`` and the ``relu_grad(v, .)`` nodes, if that is all."""
        readers = users.get(v.id, [])
        relus = [n for n in readers if n.name == "relu"]
        grads = [n for n in readers if n.name == "relu_grad" and n.inputs[0] is v]
        if v.id in outputs or len(relus) != 1 or len(relus) + len(grads) != len(readers):
            return None
        if any(u is v for g in grads for u in g.inputs[1:]):
            return None
        return relus[0], grads

    for node in graph.nodes:
        fused = RELU_FUSIONS.get(node.name)
        if fused is None or node.dyn_attrs:
            continue
        y = node.outputs[0]
        found = relu_readers(y)
        extra: list[Value] = []
        if found is None and node.name == "batch_norm_train":
            found, extra = _residual_relu(node, users, outputs, position, relu_readers)
            fused = "batch_norm_train_add_relu"
        if found is None:
            continue
        relu, grads = found
        r = relu.outputs[0]
        if extra:
            dropped.add(id(users[y.id][0]))  # the residual add
            node.inputs = node.inputs + extra
        node.name, node.op = fused, OPS[fused]
        node.outputs[0] = r
        r.producer = node
        for g in grads:
            g.inputs[0] = r
        dropped.add(id(relu))
        count += 1
    graph.nodes = [n for n in graph.nodes if id(n) not in dropped]
    return count


def _residual_relu(bn, users, outputs, position, relu_readers):
    """For ``relu(bn + s)``: ``((relu, relu_grads), [s])``, else ``(None, [])``."""
    y = bn.outputs[0]
    readers = users.get(y.id, [])
    if y.id in outputs or len(readers) != 1 or readers[0].name != "add":
        return None, []
    add = readers[0]
    s = add.inputs[1] if add.inputs[0] is y else add.inputs[0]
    if s is y or s.shape != y.shape or s.dtype != y.dtype:
        return None, []
    if s.producer is not None and position.get(id(s.producer), len(position)) > position[id(bn)]:
        return None, []  # the shortcut is computed after the BatchNorm
    found = relu_readers(add.outputs[0])
    return (found, [s]) if found is not None else (None, [])


# Operators that save a context for their gradient, and the variant that does not.
WITHOUT_SAVES = {"max_pool2d": "max_pool2d_values"}


def drop_unused_saves(graph: Graph) -> int:
    """Run the context-free variant of operators whose saved context nobody reads.

    In an inference graph no gradient reads max pooling's argmax, so the kernel need
    not compute it (LeNet-5's 2x2 pooling: the maxima alone take a fraction of the
    time). Run after :func:`eliminate_dead`. Returns the count.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import ops
        >>> from npukernel.graph.tracer import trace
        >>> x = npk.Tensor(np.ones((1, 1, 4, 4), np.float32))
        >>> tr, _ = trace(lambda x: ops.max_pool2d(x, 2, 2), (x,))
        >>> drop_unused_saves(tr.graph), [n.name for n in tr.graph.nodes]
        (1, ['max_pool2d_values'])
    """
    users = graph.users()
    count = 0
    for node in graph.nodes:
        variant = WITHOUT_SAVES.get(node.name)
        if variant is None or node.saved is None or node.saved.id in users:
            continue
        node.name, node.op, node.saved = variant, OPS[variant], None
        count += 1
    return count


def _flat_channels(v: Value) -> Value:
    """``v``'s ``(C,)`` source when ``v`` is only its ``(1, C, 1, 1)`` reshape, else ``v``.

    The fused convolution reads per-channel values flat, so the reshape need not run: it
    goes dead and :func:`eliminate_dead` drops it (two calls per BatchNorm in a batch-1
    replay).
    """
    src = v.producer
    if src is not None and src.name == "reshape" and not src.dyn_attrs:
        flat = src.inputs[0]
        if flat.shape == (v.shape[1],) and flat.dtype == v.dtype:
            return flat
    return v


def _batch_norm_stats(scale: Value, shift: Value) -> tuple | None:
    """``(gamma, beta, mean, var, eps)`` if ``scale, shift`` are :func:`fold_batch_norm`'s."""

    def made_by(v: Value, name: str) -> Node | None:
        p = v.producer
        return p if p is not None and p.name == name and not p.dyn_attrs else None

    times, minus = made_by(scale, "mul"), made_by(shift, "sub")
    if times is None or minus is None:
        return None
    gamma, inv = times.inputs
    root = made_by(inv, "rsqrt")
    plus = made_by(root.inputs[0], "add") if root is not None else None
    product = made_by(minus.inputs[1], "mul")
    if plus is None or product is None or product.inputs[1] is not scale:
        return None
    var, eps = plus.inputs
    beta, mean = minus.inputs[0], product.inputs[0]
    if eps.kind != CONST or eps.const.shape != ():
        return None
    if any(v.shape != scale.shape or v.dtype != scale.dtype for v in (gamma, beta, mean, var)):
        return None
    return gamma, beta, mean, var, float(eps.const)


def fuse_conv_affine(graph: Graph) -> int:
    """Fold an inference BatchNorm (and a residual add and a ReLU) into its convolution.

    After :func:`fold_batch_norm`, an inference block reads ``relu(conv2d(x, w) * scale +
    shift [+ r])``, where ``scale`` and ``shift`` are per-channel ``(1, C, 1, 1)``. That
    chain becomes one ``conv2d_affine`` (``conv2d_affine_add`` with the residual ``r``)
    whose kernel applies it while writing the output: the activations are written once
    instead of written, read and written again. Each intermediate must have no other
    reader, and the convolution's saved context none (no gradient). The fused node runs
    where the chain's last node ran, so ``r`` is ready. Returns the count.

    When ``scale`` and ``shift`` are :func:`fold_batch_norm`'s (``gamma * rsqrt(var +
    eps)`` and ``beta - mean * scale``) the node is ``conv2d_bn[_add]``: it reads the
    BatchNorm's four vectors and its kernel folds them itself, so the fold's own small
    kernel goes dead (one launch per BatchNorm; 21 in a ResNet-20 forward). A
    convolution whose result is max pooled keeps ``conv2d_affine``, which
    :func:`fuse_conv_pool` takes.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> from npukernel.graph.tracer import trace
        >>> net = nn.SequentialCell([nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU()])
        >>> _ = net.set_train(False)
        >>> x = npk.Tensor(np.ones((1, 2, 5, 5), np.float32))
        >>> tr, _ = trace(net, (x,))
        >>> g = tr.graph
        >>> fold_batch_norm(g), fuse_conv_affine(g), eliminate_dead(g) >= 0
        (1, 1, True)
        >>> [n.name for n in g.nodes if n.name.startswith("conv")]
        ['conv2d_bn']
    """
    users = graph.users()
    outputs = {v.id for v in graph.outputs}

    def only_reader(v: Value, name: str) -> Node | None:
        readers = users.get(v.id, [])
        if v.id in outputs or len(readers) != 1 or readers[0].name != name:
            return None
        if id(readers[0]) in removed:  # an earlier chain took it (a residual's other arm)
            return None
        return readers[0]

    def per_channel(v: Value, c: int) -> bool:
        return v.shape == (1, c, 1, 1)

    replace: dict[int, Node] = {}  # id(last node of a chain) -> the fused node
    removed: set[int] = set()  # nodes some chain took
    for conv in graph.nodes:
        if conv.name != "conv2d" or (conv.saved is not None and conv.saved.id in users):
            continue
        y = conv.outputs[0]
        c = y.shape[1]
        mul = only_reader(y, "mul")
        if mul is None or mul.inputs[0] is not y or not per_channel(mul.inputs[1], c):
            continue
        add = only_reader(mul.outputs[0], "add")
        if add is None or add.inputs[0] is not mul.outputs[0] or not per_channel(add.inputs[1], c):
            continue
        chain = [conv, mul, add]
        inputs = [*conv.inputs, _flat_channels(mul.inputs[1]), _flat_channels(add.inputs[1])]
        cur = add.outputs[0]
        res = only_reader(cur, "add")
        if res is not None:
            other = res.inputs[1] if res.inputs[0] is cur else res.inputs[0]
            if other is not cur and other.shape == y.shape and other.dtype == y.dtype:
                chain.append(res)
                inputs.append(other)
                cur = res.outputs[0]
        relu = only_reader(cur, "relu")
        if relu is not None:
            chain.append(relu)
            cur = relu.outputs[0]
        name = "conv2d_affine_add" if len(inputs) == 5 else "conv2d_affine"
        attrs = dict(conv.attrs, relu=relu is not None)
        stats = _batch_norm_stats(inputs[2], inputs[3])
        pooled = any(n.name == "max_pool2d" for n in users.get(cur.id, []))
        if stats is not None and not pooled:
            *vectors, attrs["eps"] = stats
            inputs[2:4] = vectors
            name = "conv2d_bn_add" if len(inputs) == 7 else "conv2d_bn"
        fused = Node(name, OPS[name], inputs, attrs, [cur], site=conv.site, device=conv.device)
        cur.producer = fused
        replace[id(chain[-1])] = fused
        removed.update(id(n) for n in chain)
    graph.nodes = [
        replace.get(id(n), n) for n in graph.nodes if id(n) not in removed or id(n) in replace
    ]
    return len(replace)


# Convolutions whose 2x2 max pooling fuse_conv_pool moves into them (attribute: relu).
_POOLABLE = {"conv2d": False, "conv2d_relu": True, "conv2d_affine": None}


def fuse_conv_pool(graph: Graph) -> int:
    """Move a 2x2 max pooling (stride 2, no padding) into the convolution before it.

    In an inference graph ``max_pool2d_values(relu?(conv2d(x, w) [* scale + shift]), 2,
    2)`` (LeNet-5's layers) becomes one ``conv2d_maxpool``: its kernel pools each image's
    output while it is in the cache and writes only the pooled quarter, where the pair
    wrote the whole output, read it back and wrote the quarter. Applies when the pooling
    alone reads the convolution's output and no gradient reads the convolution's context.
    Run after :func:`drop_unused_saves`. Returns the count.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> from npukernel.graph.tracer import trace
        >>> net = nn.SequentialCell([nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, 2)])
        >>> x = npk.Tensor(np.ones((1, 1, 6, 6), np.float32))
        >>> tr, _ = trace(net, (x,))
        >>> g = tr.graph
        >>> fuse_relu(g), drop_unused_saves(g), fuse_conv_pool(g)
        (1, 1, 1)
        >>> [n.name for n in g.nodes]
        ['conv2d_maxpool']
    """
    users = graph.users()
    outputs = {v.id for v in graph.outputs}
    dropped: set[int] = set()
    count = 0
    for conv in graph.nodes:
        if conv.name not in _POOLABLE or conv.dyn_attrs:
            continue
        relu = _POOLABLE[conv.name]
        if conv.saved is not None and conv.saved.id in users:
            continue
        y = conv.outputs[0]
        readers = users.get(y.id, [])
        if y.id in outputs or len(readers) != 1 or readers[0].name != "max_pool2d_values":
            continue
        pool = readers[0]
        a = pool.attrs
        if pool.dyn_attrs or (tuple(a["kernel"]), tuple(a["stride"]), tuple(a["padding"])) != (
            (2, 2), (2, 2), (0, 0)
        ):  # fmt: skip
            continue
        if relu is None:  # conv2d_affine carries its own
            relu = conv.attrs["relu"]
        attrs = {k: conv.attrs[k] for k in ("stride", "padding", "dilation", "groups")}
        r = pool.outputs[0]
        conv.name, conv.op = "conv2d_maxpool", OPS["conv2d_maxpool"]
        conv.attrs = attrs | {"relu": relu}
        conv.outputs = [r]
        conv.saved = None
        r.producer = conv
        dropped.add(id(pool))
        count += 1
    graph.nodes = [n for n in graph.nodes if id(n) not in dropped]
    return count
