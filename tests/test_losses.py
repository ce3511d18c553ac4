"""Losses against independent numpy computations, the ignore label, and serialization in a saved model."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseg import losses

IGNORE = 255


def _random_batch(seed=0, shape=(2, 8, 8), classes=4, ignore_fraction=0.2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=shape).astype(np.int32)
    labels[rng.random(shape) < ignore_fraction] = IGNORE
    logits = rng.normal(0, 2, size=(*shape, classes)).astype(np.float32)
    return labels, logits


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def test_cross_entropy_ignores_255_and_averages_over_labelled_pixels():
    labels, logits = _random_batch()
    valid = labels != IGNORE
    logp = _log_softmax(logits.astype(np.float64))
    expected = -np.mean([logp[idx][labels[idx]] for idx in zip(*np.nonzero(valid), strict=True)])
    got = float(losses.SegmentationCrossEntropy()(labels, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.slow
def test_class_weighted_cross_entropy_matches_numpy():
    labels, logits = _random_batch(seed=1)
    weights = [0.5, 2.0, 1.0, 4.0]
    logp = _log_softmax(logits.astype(np.float64))
    terms = [
        -weights[labels[idx]] * logp[idx][labels[idx]]
        for idx in zip(*np.nonzero(labels != IGNORE), strict=True)
    ]
    got = float(losses.SegmentationCrossEntropy(class_weights=weights)(labels, logits))
    np.testing.assert_allclose(got, np.sum(terms) / len(terms), rtol=1e-5)


@pytest.mark.slow
def test_ignored_pixels_get_no_gradient():
    labels, logits = _random_batch(seed=2)
    for loss in (losses.SegmentationCrossEntropy(), losses.DiceLoss(), losses.LovaszSoftmaxLoss()):
        x = tf.Variable(logits)
        with tf.GradientTape() as tape:
            value = loss(labels, x)
        grad = tape.gradient(value, x).numpy()
        assert np.all(grad[labels == IGNORE] == 0), loss.name
        assert np.abs(grad[labels != IGNORE]).sum() > 0, loss.name


def _one_hot_logits(pred, classes):
    # Logits of +-30 give softmax probabilities of exactly 0/1 in float32.
    return np.where(np.eye(classes, dtype=bool)[pred], 30.0, -30.0).astype(np.float32)


def _numpy_iou(labels, pred, c):
    valid = labels != IGNORE
    t, p = (labels == c) & valid, (pred == c) & valid
    return (t & p).sum() / (t | p).sum()


def test_lovasz_softmax_equals_one_minus_iou_for_hard_predictions():
    # The Lovász extension agrees with the Jaccard loss on the vertices of the cube (Berman et al., section 3):
    # with one-hot probabilities the loss must be the mean over present classes of 1 - IoU.
    rng = np.random.default_rng(3)
    classes = 5
    labels = rng.integers(0, classes - 1, size=(2, 12, 12)).astype(np.int32)  # class 4 never labelled
    pred = np.where(rng.random(labels.shape) < 0.3, rng.integers(0, classes, labels.shape), labels)
    labels[rng.random(labels.shape) < 0.15] = IGNORE
    expected = np.mean([1 - _numpy_iou(labels, pred, c) for c in range(classes - 1)])
    got = float(losses.LovaszSoftmaxLoss()(labels, _one_hot_logits(pred, classes)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.slow
def test_dice_for_hard_predictions_matches_numpy():
    rng = np.random.default_rng(4)
    classes = 3
    labels = rng.integers(0, classes, size=(2, 10, 10)).astype(np.int32)
    pred = np.where(rng.random(labels.shape) < 0.4, rng.integers(0, classes, labels.shape), labels)
    labels[rng.random(labels.shape) < 0.1] = IGNORE
    valid = labels != IGNORE
    dice = []
    for c in range(classes):
        t, p = (labels == c) & valid, (pred == c) & valid
        dice.append((2 * (t & p).sum() + 1.0) / (t.sum() + p.sum() + 1.0))
    got = float(losses.DiceLoss(smooth=1.0)(labels, _one_hot_logits(pred, classes)))
    np.testing.assert_allclose(got, 1 - np.mean(dice), rtol=1e-5)


def test_losses_accept_masks_with_channel_axis():
    labels, logits = _random_batch(seed=5)
    for name in losses.LOSSES:
        loss = losses.get_loss(name)
        np.testing.assert_allclose(
            float(loss(labels[..., None], logits)), float(loss(labels, logits)), rtol=1e-6
        )


def test_get_loss_rejects_unknown_names_and_misplaced_weights():
    with pytest.raises(ValueError, match="valid losses: ce, dice, lovasz"):
        losses.get_loss("focal")
    with pytest.raises(ValueError, match="only used by the cross-entropy"):
        losses.get_loss("dice", class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        losses.SegmentationCrossEntropy(class_weights=[1.0, -1.0])
    labels, logits = _random_batch()
    with pytest.raises(ValueError, match="class_weights has 2 entries but the logits have 4 classes"):
        losses.SegmentationCrossEntropy(class_weights=[1.0, 1.0])(labels, logits)


@pytest.mark.slow
def test_compiled_model_with_each_loss_saves_and_loads(tmp_path):
    labels, _ = _random_batch(seed=6, shape=(2, 8, 8), classes=3)
    images = np.random.default_rng(6).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    for name, loss in (
        ("ce", losses.SegmentationCrossEntropy(class_weights=[1.0, 2.0, 3.0])),
        ("dice", losses.DiceLoss(smooth=0.5)),
        ("lovasz", losses.LovaszSoftmaxLoss()),
    ):
        inputs = keras.Input((None, None, 3))
        model = keras.Model(inputs, keras.layers.Conv2D(3, 1, name="logits")(inputs))
        model.compile(optimizer="sgd", loss=loss)
        before = model.evaluate(images, labels, verbose=0)
        path = tmp_path / f"{name}.keras"
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True)
        assert type(loaded.loss) is type(loss)
        assert loaded.loss.get_config() == loss.get_config()
        np.testing.assert_allclose(loaded.evaluate(images, labels, verbose=0), before, rtol=1e-5)
