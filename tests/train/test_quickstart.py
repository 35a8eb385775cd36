"""The MindSpore LeNet quick start runs on npukernel (see quickstart_lenet.py)."""

import os

import npukernel as npk
from npukernel import load_checkpoint, load_param_into_net, nn, save_checkpoint
from npukernel.train import Accuracy, CheckpointConfig, Model, ModelCheckpoint
from tests.train import quickstart_lenet as q


def test_lenet_quickstart(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    npk.set_seed(0)
    # the quick start's __main__ block
    lr = 0.01
    momentum = 0.9
    dataset_size = 1
    mnist_path = "./MNIST_Data"
    net_loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    train_epoch = 1
    net = q.LeNet5()
    net_opt = nn.Momentum(net.trainable_params(), lr, momentum)
    config_ck = CheckpointConfig(save_checkpoint_steps=1875, keep_checkpoint_max=10)
    ckpoint = ModelCheckpoint(prefix="checkpoint_lenet", config=config_ck)
    model = Model(net, net_loss, net_opt, metrics={"Accuracy": Accuracy()})
    q.train_net(model, train_epoch, mnist_path, dataset_size, ckpoint, False)

    # On full MNIST the epoch has 1875 steps; on our slice it has 4, and the checkpoint
    # written at the end of training carries that step number.
    assert os.path.exists("checkpoint_lenet-1_4.ckpt")
    os.replace("checkpoint_lenet-1_4.ckpt", "checkpoint_lenet-1_1875.ckpt")
    q.test_net(net, model, mnist_path)
    out = capsys.readouterr().out
    assert "epoch: 1 step: 4, loss is" in out
    assert "============== Accuracy:{'Accuracy': " in out

    # MindSpore 2.x's save / load of a network
    save_checkpoint(net, "model.ckpt")
    net2 = q.LeNet5()
    param_not_load, ckpt_not_load = load_param_into_net(net2, load_checkpoint("model.ckpt"))
    assert param_not_load == [] and ckpt_not_load == []
    x = next(q.create_dataset("./MNIST_Data/test").create_tuple_iterator())[0]
    assert (model.predict(x).asnumpy() == Model(net2).predict(x).asnumpy()).all()
