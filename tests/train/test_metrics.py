import numpy as np
import pytest

import npukernel as npk
from npukernel.train import (
    F1,
    MAE,
    MSE,
    Accuracy,
    ConfusionMatrix,
    Fbeta,
    Loss,
    Metric,
    Precision,
    Recall,
    Top1CategoricalAccuracy,
    Top5CategoricalAccuracy,
    TopKCategoricalAccuracy,
    get_metric_by_name,
    get_metrics,
    names,
)

# 6 samples, 3 classes. Predicted classes: 0, 1, 2, 1, 0, 2; labels: 0, 1, 1, 1, 2, 2.
Y_PRED = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.3, 0.6],
        [0.3, 0.4, 0.3],
        [0.5, 0.2, 0.3],
        [0.1, 0.2, 0.7],
    ]
)
Y = np.array([0, 1, 1, 1, 2, 2])


def test_accuracy_by_hand():
    m = Accuracy()
    m.update(Y_PRED[:4], Y[:4])  # 3 of 4 right
    m.update(npk.Tensor(Y_PRED[4:].astype(np.float32)), npk.Tensor(Y[4:]))  # 1 of 2
    assert m.eval() == pytest.approx(4 / 6)
    one_hot = np.eye(3)[Y]
    assert Accuracy()(Y_PRED, one_hot) == pytest.approx(4 / 6)
    m.clear()
    with pytest.raises(RuntimeError, match="number of samples is 0"):
        m.eval()


def test_accuracy_multilabel():
    pred = np.array([[0.9, 0.2], [0.6, 0.7], [0.1, 0.1]])
    y = np.array([[1, 0], [1, 0], [0, 0]])
    assert Accuracy("multilabel")(pred, y) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        Accuracy("regression")


def test_precision_recall_f1_by_hand():
    # per class: tp = [1, 2, 1]; predicted = [2, 2, 2]; actual = [1, 3, 2]
    p = Precision()(Y_PRED, Y)
    r = Recall()(Y_PRED, Y)
    np.testing.assert_allclose(p, [1 / 2, 2 / 2, 1 / 2])
    np.testing.assert_allclose(r, [1 / 1, 2 / 3, 1 / 2])
    f1 = F1()(Y_PRED, Y)
    np.testing.assert_allclose(f1, 2 * p * r / (p + r))
    f2 = Fbeta(2.0)(Y_PRED, Y)
    np.testing.assert_allclose(f2, 5 * p * r / (4 * p + r))
    m = Precision()
    m.update(Y_PRED, Y)
    assert m.eval(average=True) == pytest.approx(np.mean([0.5, 1.0, 0.5]))
    with pytest.raises(ValueError):
        Fbeta(0)


def test_precision_class_never_predicted_is_zero_not_nan():
    p = Precision()(np.array([[0.9, 0.1]]), np.array([1]))
    np.testing.assert_array_equal(p, [0.0, 0.0])


def test_topk_by_hand():
    # label rank among scores: s0 1st, s1 1st, s2 2nd, s3 1st, s4 2nd/3rd (0.3 vs 0.2), s5 1st
    assert Top1CategoricalAccuracy()(Y_PRED, Y) == pytest.approx(4 / 6)
    assert TopKCategoricalAccuracy(2)(Y_PRED, Y) == pytest.approx(6 / 6)
    scores = np.tile(np.arange(10.0), (2, 1))
    assert Top5CategoricalAccuracy()(scores, np.array([5, 4])) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        TopKCategoricalAccuracy(0)


def test_confusion_matrix_by_hand():
    cm = ConfusionMatrix(3)(Y_PRED, Y)
    expected = np.array([[1, 0, 0], [0, 2, 1], [1, 0, 1]])  # rows: true; cols: predicted
    np.testing.assert_array_equal(cm, expected)
    np.testing.assert_allclose(
        ConfusionMatrix(3, "target")(Y_PRED, Y), expected / expected.sum(1, keepdims=True)
    )
    np.testing.assert_allclose(
        ConfusionMatrix(3, "prediction")(Y_PRED, Y), expected / expected.sum(0, keepdims=True)
    )
    np.testing.assert_allclose(ConfusionMatrix(3, "all")(Y_PRED, Y), expected / 6)
    binary = ConfusionMatrix(2, threshold=0.4)(np.array([0.3, 0.5, 0.9]), np.array([0, 0, 1]))
    np.testing.assert_array_equal(binary, [[1, 1], [0, 1]])
    with pytest.raises(ValueError):
        ConfusionMatrix(3, normalize="rows")


def test_mae_mse_loss_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[1.5, 2.0], [2.0, 6.0]])
    assert MAE()(pred, y) == pytest.approx((0.5 + 0 + 1 + 2) / 2)
    assert MSE()(pred, y) == pytest.approx((0.25 + 0 + 1 + 4) / 2)
    loss = Loss()
    loss.update(npk.Tensor(2.0))
    loss.update(np.array([1.0, 3.0]))
    assert loss.eval() == pytest.approx(2.0)
    with pytest.raises(ValueError):
        loss.update(np.ones((2, 2)))


def test_indexes_pick_inputs():
    m = Accuracy().set_indexes([1, 2])
    m.update("ignored", Y_PRED, Y)
    assert m.eval() == pytest.approx(4 / 6)


def test_names_and_factory():
    assert {"accuracy", "acc", "loss", "precision", "recall", "F1", "mae", "mse"} <= set(names())
    metrics = get_metrics({"accuracy", "loss"})
    assert isinstance(metrics["accuracy"], Accuracy) and isinstance(metrics["loss"], Loss)
    assert isinstance(get_metrics({"top": "top_5_accuracy"})["top"], Top5CategoricalAccuracy)
    assert get_metrics(None) is None
    with pytest.raises(KeyError, match="known names"):
        get_metric_by_name("nope")
    with pytest.raises(TypeError):
        get_metrics("accuracy")
    with pytest.raises(TypeError):
        get_metrics({"a": 3})


def test_custom_metric_base():
    class Count(Metric):
        def clear(self):
            self.n = 0

        def update(self, *inputs):
            self.n += len(inputs[0])

        def eval(self):
            return self.n

    assert Count()([1, 2, 3]) == 3
    with pytest.raises(NotImplementedError):
        Metric().eval()
