"""Evaluation: test-time equivalences (flip, sliding window, scales), scores, dense CRF, mask/overlay writing."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasseg.data import voc_palette
from kerasseg.evaluation import (
    dense_crf,
    evaluate,
    predict_folder,
    predict_probabilities,
    window_starts,
)
from kerasseg.models import SegmentationModel

IGNORE = 255


def _conv_model(kernel, input_shape=(None, None, 3), dict_output=False):
    """A single convolution with the given (kh, kw, 3, classes) kernel, bias 0; ``dict_output``: with an
    auxiliary head, as a SegmentationModel."""
    inputs = keras.Input(input_shape)
    conv = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], padding="same", name="conv")
    logits = keras.layers.Activation("linear", name="logits")(conv(inputs))
    outputs = (
        {"logits": logits, "aux": keras.layers.Activation("linear", name="aux")(logits)}
        if dict_output
        else logits
    )
    model = SegmentationModel(inputs, outputs) if dict_output else keras.Model(inputs, outputs)
    conv.set_weights([kernel.astype(np.float32), np.zeros(kernel.shape[-1], np.float32)])
    return model


def _image(h, w, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (1, h, w, 3)).astype(np.float32)


def _pointwise_kernel(classes=4, seed=0):
    return np.random.default_rng(seed).normal(0, 0.02, (1, 1, 3, classes))


def test_flip_averaging_of_a_flip_equivariant_model_changes_nothing():
    kernel = np.random.default_rng(1).normal(0, 0.01, (3, 3, 3, 4))
    symmetric = kernel + kernel[:, ::-1]  # mirror-symmetric in width: the convolution commutes with flips
    image = _image(20, 28)
    model = _conv_model(symmetric)
    np.testing.assert_allclose(
        predict_probabilities(model, image, flip=True), predict_probabilities(model, image), atol=1e-6
    )
    # The same check fails for a kernel without the symmetry, so the test above can see a wrong flip-back.
    asymmetric = _conv_model(kernel)
    assert not np.allclose(
        predict_probabilities(asymmetric, image, flip=True),
        predict_probabilities(asymmetric, image),
        atol=1e-4,
    )


def test_sliding_window_of_a_pointwise_model_equals_the_whole_image():
    kernel = _pointwise_kernel()
    image = _image(40, 52)
    whole = predict_probabilities(_conv_model(kernel), image)
    windowed = predict_probabilities(_conv_model(kernel), image, crop_size=(16, 24))
    np.testing.assert_allclose(windowed, whole, atol=1e-6)
    # A model built for one fixed size slides that window by itself, and pads images smaller than the window.
    fixed = _conv_model(kernel, input_shape=(16, 16, 3))
    np.testing.assert_allclose(predict_probabilities(fixed, image), whole, atol=1e-6)
    with pytest.raises(ValueError, match=r"takes 16x16 inputs; crop_size \(8, 8\)"):
        predict_probabilities(fixed, image, crop_size=(8, 8))
    small = _image(12, 40, seed=2)
    np.testing.assert_allclose(
        predict_probabilities(fixed, small), predict_probabilities(_conv_model(kernel), small), atol=1e-6
    )


def test_window_starts_cover_the_image_and_end_at_the_edge():
    assert window_starts(100, 40, 27) == [0, 27, 54, 60]
    assert window_starts(30, 40, 27) == [0]
    assert window_starts(40, 40, 27) == [0]


def test_resize_takes_one_image_or_a_batch_as_float32_and_masks_nearest_keeping_their_labels():
    # The one resize evaluation and export share (kerasseg.evaluation.inference.resize); expected values from
    # TensorFlow's own bilinear resize (half-pixel centres) and a hand-made nearest upsampling.
    from kerasseg.evaluation.inference import resize

    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3)).astype("uint8")
    expected = tf.image.resize(image.astype("float32"), (10, 14), method="bilinear").numpy()
    for got in (resize(image, (10, 14)), resize(image[None], (10, 14))[0]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-4)
    mask = np.array([[0, 1], [2, 255]], dtype="uint8")
    for got in (resize(mask, (4, 4), "nearest"), resize(mask[None], (4, 4), "nearest")[0]):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, np.kron(mask, np.ones((2, 2), "uint8")))
    np.testing.assert_array_equal(resize(mask, (2, 2), "nearest"), mask)


def test_multi_scale_with_flip_matches_an_independent_computation():
    kernel = np.random.default_rng(3).normal(0, 0.02, (3, 3, 3, 4))
    image = _image(24, 32, seed=3)
    model = _conv_model(kernel)
    scales = (0.5, 1.0, 1.5)
    expected = 0
    for s in scales:
        x = tf.image.resize(image, (round(24 * s), round(32 * s)), method="bilinear")
        for flipped in (False, True):
            xi = tf.reverse(x, axis=[2]) if flipped else x
            p = tf.nn.softmax(model(xi), axis=-1)
            p = tf.reverse(p, axis=[2]) if flipped else p
            expected += tf.image.resize(p, (24, 32), method="bilinear").numpy()
    expected /= 2 * len(scales)
    got = predict_probabilities(model, image, scales=scales, flip=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def _identity_model(dict_output=False):
    """Logits = the RGB input itself: class c wins where channel c is largest."""
    return _conv_model(np.eye(3).reshape(1, 1, 3, 3), dict_output=dict_output)


def _numpy_miou(labels, pred, classes):
    valid = labels != IGNORE
    ious = []
    for c in range(classes):
        t, p = (labels == c) & valid, (pred == c) & valid
        if (t | p).any():
            ious.append((t & p).sum() / (t | p).sum())
    return np.mean(ious)


def test_evaluate_accumulates_over_a_dataset_and_scores_the_logits_of_a_model_with_an_aux_head():
    rng = np.random.default_rng(4)
    images = rng.uniform(0, 255, (5, 12, 16, 3)).astype(np.float32)
    pred = images.argmax(-1)
    labels = np.where(rng.random(pred.shape) < 0.7, pred, rng.integers(0, 3, pred.shape)).astype(np.int32)
    labels[rng.random(labels.shape) < 0.1] = IGNORE
    expected = _numpy_miou(labels, pred, 3)
    batched = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    scores = evaluate(_identity_model(dict_output=True), batched)
    np.testing.assert_allclose(scores.miou, expected)
    assert scores.confusion.sum() == (labels != IGNORE).sum()
    # Unbatched (image, mask) pairs with a trailing mask channel give the same scores.
    pairs = [(img, lab[..., None]) for img, lab in zip(images, labels, strict=True)]
    np.testing.assert_array_equal(
        evaluate(_identity_model(), pairs, class_names=list("abc")).confusion, scores.confusion
    )


def test_evaluate_reports_bad_inputs():
    model = _identity_model()
    with pytest.raises(ValueError, match=r"mask shape \(1, 8, 9\) does not match image shape \(1, 8, 8, 3\)"):
        evaluate(model, [(np.zeros((8, 8, 3)), np.zeros((8, 9), np.int32))])
    with pytest.raises(ValueError, match="the model predicts 3 classes but num_classes is 5"):
        evaluate(model, [(np.zeros((8, 8, 3)), np.zeros((8, 8), np.int32))], num_classes=5)
    with pytest.raises(ValueError, match="mask label 3 is outside 0..2"):
        evaluate(model, [(np.zeros((8, 8, 3)), np.full((8, 8), 3, np.int32))])
    with pytest.raises(ValueError, match="num_classes is required"):
        evaluate(lambda x: x, [(np.zeros((8, 8, 3)), np.zeros((8, 8), np.int32))])
    with pytest.raises(ValueError, match="unknown crf_params"):
        evaluate(model, [], crf=True, crf_params={"sigma": 3})


def test_dense_crf_cleans_noisy_predictions_along_an_edge():
    # Two flat regions with a sharp vertical edge; the unary predictions are right on 70% of the pixels with a
    # weak 0.65 confidence. The bilateral kernel (pixels of the same colour agree) must fix most errors.
    rng = np.random.default_rng(5)
    h, w = 48, 64
    labels = np.zeros((h, w), np.int32)
    labels[:, w // 2 + 3 :] = 1
    image = np.where(labels[..., None] == 1, 190.0, 60.0) + rng.normal(0, 1.0, (h, w, 1))
    image = np.repeat(image, 3, axis=-1).astype(np.float32)
    noisy = np.where(rng.random((h, w)) < 0.3, 1 - labels, labels)
    probs = np.where(np.eye(2, dtype=bool)[noisy], 0.65, 0.35).astype(np.float32)

    def unaries(batch):
        return np.log(probs)[None].repeat(len(batch), 0)

    before = evaluate(unaries, [(image, labels)], num_classes=2)
    after = evaluate(unaries, [(image, labels)], num_classes=2, crf=True)
    np.testing.assert_allclose(before.miou, _numpy_miou(labels, noisy, 2))
    assert before.miou < 0.6
    assert after.miou > 0.95
    refined = dense_crf(image, probs)
    assert refined.shape == probs.shape
    np.testing.assert_allclose(refined.sum(-1), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="same H, W"):
        dense_crf(image[:10], probs)


def test_predict_folder_writes_label_masks_and_overlays(tmp_path):
    rng = np.random.default_rng(6)
    (tmp_path / "images").mkdir()
    arrays = {}
    for name in ("a", "b"):
        arrays[name] = rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)
        Image.fromarray(arrays[name]).save(tmp_path / "images" / f"{name}.png")
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    written = predict_folder(_identity_model(), tmp_path / "images", tmp_path / "out", alpha=0.5)
    assert len(written) == 4
    for name, rgb in arrays.items():
        mask = Image.open(tmp_path / "out" / "masks" / f"{name}.png")
        assert mask.mode == "P"
        np.testing.assert_array_equal(np.asarray(mask), rgb.argmax(-1))
        colours = voc_palette()[rgb.argmax(-1)].astype(np.float32)
        overlay = np.asarray(Image.open(tmp_path / "out" / "overlays" / f"{name}.png"))
        np.testing.assert_allclose(overlay, 0.5 * rgb + 0.5 * colours, atol=0.51)
    assert not list((tmp_path / "out").rglob("*.tmp"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        predict_folder(_identity_model(), tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match="no images"):
        predict_folder(_identity_model(), tmp_path / "out" / "overlays" / "..", tmp_path / "out2")
