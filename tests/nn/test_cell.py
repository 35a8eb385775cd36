"""Cell: registration, naming, traversal, modes, repr, containers."""

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn, ops
from npukernel.common.parameter import ParameterTuple
from npukernel.errors import DTypeError, NpuError


class Block(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 3)
        self.scale = npk.Parameter(npk.Tensor(np.ones(3, np.float32)))  # unnamed: takes "scale"

    def construct(self, x):
        return self.fc(x) * self.scale


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.bn = nn.BatchNorm1d(3)
        self.head = nn.SequentialCell([nn.Dense(3, 5), nn.ReLU(), nn.Dense(5, 2)])
        self.drop = nn.Dropout(p=0.5)

    def construct(self, x):
        return self.head(self.drop(self.bn(self.block(x))))


def test_parameter_names_are_dotted_paths():
    net = Net()
    assert list(net.parameters_dict()) == [
        "block.scale", "block.fc.weight", "block.fc.bias", "bn.gamma", "bn.beta",
        "bn.moving_mean", "bn.moving_variance", "head.0.weight", "head.0.bias",
        "head.2.weight", "head.2.bias",
    ]  # fmt: skip
    assert [n for n, _ in net.parameters_and_names()] == list(net.parameters_dict())


def test_trainable_and_untrainable():
    net = Net()
    untrainable = [p.name for p in net.untrainable_params()]
    assert untrainable == ["bn.moving_mean", "bn.moving_variance"]
    assert len(net.trainable_params()) == 9
    assert all(p.requires_grad for p in net.trainable_params())


def test_cells_and_names_and_name_cells():
    net = Net()
    names = [n for n, _ in net.cells_and_names()]
    assert names[:4] == ["", "block", "block.fc", "bn"]
    assert "head.1" in names
    assert list(net.name_cells()) == ["block", "bn", "head", "drop"]
    assert [type(c).__name__ for c in net.cells()] == [
        "Block",
        "BatchNorm1d",
        "SequentialCell",
        "Dropout",
    ]


def test_set_train_propagates():
    net = Net()
    assert not net.training and not net.head[0].training
    net.set_train()
    assert all(c.training for _, c in net.cells_and_names())
    net.set_train(False)
    assert not any(c.training for _, c in net.cells_and_names())


def test_forward_runs_in_both_modes():
    net = Net()
    x = ops.randn((6, 4))
    assert net(x).shape == (6, 2)
    net.set_train()
    assert net(x).shape == (6, 2)


def test_repr_shows_tree_and_arguments():
    text = repr(Net())
    assert text.startswith(
        "Net<\n  (block): Block<\n    (fc): Dense<input_channels=4, output_channels=3"
    )
    assert "(head): SequentialCell<" in text and "(0): Dense<input_channels=3" in text
    assert "(drop): Dropout<p=0.5>" in text
    assert repr(nn.ReLU()) == "ReLU<>"


def test_shared_parameter_listed_once():
    class Tied(nn.Cell):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(3, 3)
            self.b = nn.Dense(3, 3)
            self.b.weight = self.a.weight

        def construct(self, x):
            return self.b(self.a(x))

    net = Tied()
    assert [p.name for p in net.get_parameters()] == ["a.weight", "a.bias", "b.bias"]


def test_wrappers_keep_network_names():
    net = Net()
    with_loss = nn.WithLossCell(net, nn.MSELoss())
    assert list(with_loss.parameters_dict()) == list(Net().parameters_dict())
    paths = [n for n, _ in with_loss.parameters_and_names()]
    assert paths[0] == "_backbone.block.scale"  # paths follow attributes, names do not


def test_nesting_prefixes_again():
    outer = nn.SequentialCell([Block()])

    class Top(nn.Cell):
        def __init__(self):
            super().__init__()
            self.body = outer

    Top()
    assert [p.name for p in outer.get_parameters()] == [
        "body.0.scale",
        "body.0.fc.weight",
        "body.0.fc.bias",
    ]


def test_celllist_append_after_nesting_gets_full_path():
    class Stack(nn.Cell):
        def __init__(self):
            super().__init__()
            self.layers = nn.CellList()
            for _ in range(2):
                self.layers.append(nn.Dense(2, 2))

        def construct(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    net = Stack()
    assert list(net.parameters_dict()) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]
    assert len(net.layers) == 2 and net(ops.ones((1, 2))).shape == (1, 2)


def test_celllist_operations():
    cl = nn.CellList([nn.ReLU(), nn.Tanh()])
    cl.extend([nn.Sigmoid()])
    cl.insert(0, nn.GELU())
    assert [type(c).__name__ for c in cl] == ["GELU", "ReLU", "Tanh", "Sigmoid"]
    cl[1] = nn.Identity()
    del cl[0]
    assert [type(c).__name__ for c in cl] == ["Identity", "Tanh", "Sigmoid"]
    assert type(cl[-1]).__name__ == "Sigmoid"
    assert len(cl[1:]) == 2
    with pytest.raises(IndexError):
        cl[5]
    with pytest.raises(DTypeError):
        cl.append(3)
    with pytest.raises(NpuError):
        cl(ops.ones(1))


def test_sequentialcell_forms():
    from collections import OrderedDict

    seq = nn.SequentialCell(OrderedDict([("fc", nn.Dense(2, 3)), ("act", nn.ReLU())]))
    assert list(seq.parameters_dict()) == ["fc.weight", "fc.bias"]
    seq2 = nn.SequentialCell(nn.Dense(2, 3), nn.ReLU())
    assert len(seq2) == 2 and seq2(ops.ones((4, 2))).shape == (4, 3)
    head = seq2[:1]
    assert isinstance(head, nn.SequentialCell) and head(ops.ones((1, 2))).shape == (1, 3)
    assert seq2[0].weight.name == "0.weight"  # slicing does not rename
    with pytest.raises(DTypeError):
        nn.SequentialCell([nn.ReLU(), "relu"])


def test_insert_param_and_update_names():
    cell = nn.Cell()
    cell.insert_param_to_cell("w", npk.Parameter(npk.Tensor([1.0])))
    assert cell.w.name == "w" and list(cell.parameters_dict()) == ["w"]
    with pytest.raises(NpuError):
        cell.insert_param_to_cell("a.b", npk.Parameter(npk.Tensor([1.0])))
    with pytest.raises(DTypeError):
        cell.insert_param_to_cell("x", npk.Tensor([1.0]))
    cell.update_parameters_name("net.")
    assert cell.w.name == "net.w"


def test_reassigning_attribute_unregisters():
    net = Block()
    net.fc = None
    assert list(net.parameters_dict()) == ["scale"]
    net.scale = 3.0
    assert list(net.parameters_dict()) == []
    net.extra = ParameterTuple([npk.Parameter(npk.Tensor([1.0]), name="t1")])
    assert list(net.parameters_dict()) == ["t1"]
    del net.extra
    assert list(net.parameters_dict()) == []


def test_assign_before_init_is_a_clear_error():
    class Bad(nn.Cell):
        def __init__(self):
            self.fc = nn.Dense(1, 1)
            super().__init__()

    with pytest.raises(NpuError, match="super\\(\\).__init__"):
        Bad()


def test_construct_must_be_defined():
    with pytest.raises(NotImplementedError, match="construct"):
        nn.Cell()(1)


def test_set_grad_and_cls_name():
    net = Block()
    assert net.set_grad() is net and net.requires_grad
    assert net.cls_name == "Block"


def test_to_float_runs_in_half():
    net = nn.SequentialCell([nn.Dense(4, 3), nn.ReLU()]).to_float(npk.float16)
    out = net(ops.randn((2, 4)))
    assert out.dtype == npk.float16
    assert net[0].weight.dtype == npk.float32  # master weights stay float32
    with pytest.raises(DTypeError):
        net.to_float(npk.int32)


def test_parameter_tuple_rules():
    a = npk.Parameter(npk.Tensor([1.0]), name="a")
    b = npk.Parameter(npk.Tensor([1.0]), name="a")
    assert len(ParameterTuple([a, a])) == 1
    with pytest.raises(NpuError, match="unique name"):
        ParameterTuple([a, b])
    with pytest.raises(DTypeError):
        ParameterTuple([npk.Tensor([1.0])])
    clone = ParameterTuple([a]).clone("m", "zeros")
    assert clone[0].name == "m.a" and clone[0].asnumpy().tolist() == [0.0]
    assert not clone[0].requires_grad
    same = ParameterTuple([a]).clone("c")
    assert same[0].asnumpy().tolist() == [1.0]


def test_to_float_keeps_norms_in_float32():
    net = nn.SequentialCell([nn.Dense(5, 4), nn.BatchNorm1d(4), nn.Dense(4, 3), nn.LayerNorm((3,))])
    net.to_float(npk.float16).set_train()
    out = net(ops.randn((6, 5)))
    assert out.dtype == npk.float16
    assert net[1].moving_mean.dtype == npk.float32
    assert np.abs(net[1].moving_mean.asnumpy()).sum() > 0  # updated through the float32 path
