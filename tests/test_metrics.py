"""Confusion-matrix scores against independent numpy computations; accumulation over batches; compile use."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from kerasseg.losses import SegmentationCrossEntropy
from kerasseg.metrics import MeanIoU, SegmentationScores, confusion_matrix

IGNORE = 255


def _one_hot_logits(pred, classes):
    return np.where(np.eye(classes, dtype=bool)[pred], 5.0, -5.0).astype(np.float32)


def _reference_scores(labels, pred, classes):
    """IoU / accuracies with boolean masks, one class at a time (no confusion matrix)."""
    valid = labels != IGNORE
    ious, accs = [], []
    for c in range(classes):
        t, p = (labels == c) & valid, (pred == c) & valid
        union = (t | p).sum()
        ious.append((t & p).sum() / union if union else np.nan)
        accs.append((t & p).sum() / t.sum() if t.sum() else np.nan)
    global_acc = ((labels == pred) & valid).sum() / valid.sum()
    return np.array(ious), np.array(accs), global_acc


def _random_case(seed, shape=(3, 16, 16), classes=5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=shape)
    pred = np.where(rng.random(shape) < 0.6, labels, rng.integers(0, classes, size=shape))
    labels[rng.random(shape) < 0.2] = IGNORE
    return labels.astype(np.int32), pred.astype(np.int64)


def test_scores_match_independent_numpy_computation():
    classes = 5
    labels, pred = _random_case(0, classes=classes)
    scores = SegmentationScores(confusion_matrix(labels, pred, classes))
    ious, accs, global_acc = _reference_scores(labels, pred, classes)
    np.testing.assert_allclose(scores.iou, ious)
    np.testing.assert_allclose(scores.miou, np.mean(ious))
    np.testing.assert_allclose(scores.class_accuracy, np.mean(accs))
    np.testing.assert_allclose(scores.global_accuracy, global_acc)
    assert scores.confusion.sum() == (labels != IGNORE).sum()


@pytest.mark.slow
def test_keras_metric_takes_logits_and_matches_numpy():
    classes = 5
    labels, pred = _random_case(1, classes=classes)
    metric = MeanIoU(classes)
    metric.update_state(labels, _one_hot_logits(pred, classes))
    ious, _, _ = _reference_scores(labels, pred, classes)
    np.testing.assert_allclose(float(metric.result()), np.mean(ious), rtol=1e-6)
    np.testing.assert_array_equal(metric.confusion_matrix(), confusion_matrix(labels, pred, classes))


def test_accumulated_confusion_matrix_differs_from_per_batch_average():
    # Batch 1: class 0 predicted perfectly on 90 pixels, class 1 (10 pixels) always predicted as 0.
    # Batch 2: class 1 predicted perfectly on 10 pixels. Per-batch mIoU: mean(mean(0.9, 0), 1.0) = 0.725;
    # over the whole dataset: IoU0 = 90 / 100, IoU1 = 10 / 20, mIoU = 0.7.
    labels1 = np.array([0] * 90 + [1] * 10).reshape(1, 10, 10)
    pred1 = np.zeros((1, 10, 10), np.int64)
    labels2 = np.ones((1, 10, 10), np.int64)
    labels2[0, :9] = IGNORE
    pred2 = np.ones((1, 10, 10), np.int64)
    metric = MeanIoU(2)
    per_batch = []
    for labels, pred in ((labels1, pred1), (labels2, pred2)):
        single = MeanIoU(2)
        single.update_state(labels, _one_hot_logits(pred, 2))
        per_batch.append(float(single.result()))
        metric.update_state(labels, _one_hot_logits(pred, 2))
    np.testing.assert_allclose(np.mean(per_batch), 0.725, rtol=1e-6)
    np.testing.assert_allclose(float(metric.result()), 0.7, rtol=1e-6)
    np.testing.assert_allclose(metric.scores().iou, [0.9, 0.5])


def test_class_absent_everywhere_is_left_out_of_the_mean():
    labels = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    scores = SegmentationScores(confusion_matrix(labels, pred, 3))
    assert np.isnan(scores.iou[2])
    np.testing.assert_allclose(scores.miou, (1 / 2 + 2 / 3) / 2)
    assert "class 2" in scores.summary() and "mIoU" in scores.summary()


def test_confusion_matrix_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match="mask label 7 is outside 0..4"):
        confusion_matrix(np.array([0, 7, IGNORE]), np.array([0, 1, 2]), 5)
    with pytest.raises(ValueError, match="labels have 3 pixels but predictions have 2"):
        confusion_matrix(np.array([0, 1, 2]), np.array([0, 1]), 5)


@pytest.mark.slow
def test_metric_in_compile_accumulates_over_the_dataset_and_saves(tmp_path):
    # A model whose logits are its input: predictions are exactly the one-hot "images" we feed.
    classes = 3
    rng = np.random.default_rng(2)
    labels = rng.integers(0, classes, size=(6, 8, 8)).astype(np.int32)
    pred = np.where(rng.random(labels.shape) < 0.5, labels, rng.integers(0, classes, labels.shape))
    labels[rng.random(labels.shape) < 0.1] = IGNORE
    inputs = keras.Input((8, 8, classes))
    model = keras.Model(inputs, keras.layers.Activation("linear", name="logits")(inputs))
    metric = MeanIoU(classes)
    model.compile(loss=SegmentationCrossEntropy(), metrics=[metric])
    logs = model.evaluate(
        _one_hot_logits(pred, classes), labels.astype(np.float32), batch_size=2, verbose=0, return_dict=True
    )
    expected, _, _ = _reference_scores(labels, pred, classes)
    np.testing.assert_allclose(logs["miou"], np.mean(expected), rtol=1e-6)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.evaluate(_one_hot_logits(pred, classes), labels, batch_size=3, verbose=0, return_dict=True)[
        "miou"
    ] == pytest.approx(logs["miou"], rel=1e-6)
    assert MeanIoU.from_config(metric.get_config()).get_config() == metric.get_config()
