"""Segmentation losses on logits that ignore the label 255: cross-entropy, Dice and Lovász-softmax.

Every loss takes ``y_true`` int masks (batch, H, W) (or (batch, H, W, 1)) and ``y_pred`` logits
(batch, H, W, classes), is a registered serializable ``keras.losses.Loss`` (a compiled model saves and loads
with ``safe_mode=True``) and can be given to a plain ``model.compile(loss=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kerasseg.data.info import IGNORE_LABEL
from kerasseg.labels import checked_labels


def _labels_and_logits(y_true, y_pred, ignore_label: int):
    """Returns int32 labels (batch, H, W) and float32 logits; accepts masks with a trailing channel of 1. Labels
    outside ``[0, classes)`` that are not ``ignore_label`` are refused (:func:`kerasseg.labels.checked_labels`)."""
    if len(y_true.shape) == len(y_pred.shape):
        y_true = ops.squeeze(y_true, axis=-1)
    labels = checked_labels(ops.cast(y_true, "int32"), y_pred.shape[-1], ignore_label)
    return labels, ops.cast(y_pred, "float32")


def _flat_valid(y_true, y_pred, ignore_label: int):
    """Flattens to (N,) labels, (N, C) probabilities and the (N,) float mask of labelled pixels.

    Ignored pixels get label 0 and mask 0, so every later sum multiplies them away.
    """
    labels, logits = _labels_and_logits(y_true, y_pred, ignore_label)
    classes = logits.shape[-1]
    labels = ops.reshape(labels, (-1,))
    probs = ops.reshape(ops.softmax(logits, axis=-1), (-1, classes))
    valid = ops.not_equal(labels, ignore_label)
    labels = ops.where(valid, labels, 0)
    return labels, probs, ops.cast(valid, "float32")


def _mean_over(values, mask):
    """Rescales ``values`` so that Keras' plain mean over all entries equals their mean over ``mask``.

    Keras' ``sum_over_batch_size`` reduction divides by the number of entries; entries outside ``mask`` become 0
    and the others are multiplied by ``entries / entries in mask`` (what Keras does itself for a tensor that
    carries a mask, done here with public ops).
    """
    mask = ops.cast(mask, values.dtype)
    total = ops.cast(ops.size(mask), values.dtype)
    return values * mask * ops.divide_no_nan(total, ops.sum(mask))


def _check_class_weights(class_weights) -> list[float] | None:
    if class_weights is None:
        return None
    weights = [float(w) for w in class_weights]
    if not weights or min(weights) < 0:
        raise ValueError(
            f"class_weights must be a non-empty list of non-negative numbers, got {class_weights}"
        )
    return weights


@keras.saving.register_keras_serializable(package="kerasseg")
class SegmentationCrossEntropy(keras.losses.Loss):
    """Per-pixel softmax cross-entropy on logits, averaged over the labelled pixels (label 255 ignored).

    Reference: Long et al., "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015 (per-pixel
    multinomial logistic loss); class weights as in Badrinarayanan et al., "SegNet", TPAMI 2017 (median frequency
    balancing: ``weight_c = median_freq / freq_c``).

    The ignore label is handled by Keras' own ``sparse_categorical_crossentropy(ignore_class=...)``; with
    ``class_weights`` each pixel's loss is multiplied by the weight of its true class and the sum is still divided
    by the number of labelled pixels (SegNet's Caffe normalisation; PyTorch divides by the sum of the weights
    instead, which rescales the learning rate by a data-dependent factor).

    Args:
        class_weights: optional sequence of one weight per class.
        ignore_label: label value excluded from the loss.
    """

    def __init__(
        self,
        class_weights: Sequence[float] | None = None,
        ignore_label: int = IGNORE_LABEL,
        name: str = "segmentation_cross_entropy",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.class_weights = _check_class_weights(class_weights)
        self.ignore_label = int(ignore_label)

    def call(self, y_true, y_pred):
        labels, logits = _labels_and_logits(y_true, y_pred, self.ignore_label)
        if self.class_weights is not None and len(self.class_weights) != logits.shape[-1]:
            raise ValueError(
                f"class_weights has {len(self.class_weights)} entries but the logits have {logits.shape[-1]} classes"
            )
        loss = keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True, ignore_class=self.ignore_label
        )
        if self.class_weights is None:
            return loss
        valid = ops.not_equal(labels, self.ignore_label)
        weights = ops.take(ops.convert_to_tensor(self.class_weights, "float32"), ops.where(valid, labels, 0))
        return _mean_over(loss * weights, valid)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_weights": self.class_weights,
            "ignore_label": self.ignore_label,
        }


@keras.saving.register_keras_serializable(package="kerasseg")
class DiceLoss(keras.losses.Loss):
    """Soft Dice loss, ``1 - (2 |P ∩ G| + s) / (|P| + |G| + s)`` per class over the whole batch, mean over classes.

    Reference: Milletari et al., "V-Net: Fully Convolutional Neural Networks for Volumetric Medical Image
    Segmentation", 3DV 2016 (multi-class softmax form with additive smoothing ``s``).

    Pixels labelled ``ignore_label`` count neither in P nor in G. The class values are returned as a
    (classes,) vector so that Keras' reduction averages them (and scales them under ``tf.distribute``);
    ``sample_weight`` is therefore not supported.
    """

    def __init__(
        self,
        smooth: float = 1.0,
        ignore_label: int = IGNORE_LABEL,
        name: str = "dice_loss",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.smooth = float(smooth)
        self.ignore_label = int(ignore_label)

    def call(self, y_true, y_pred):
        labels, probs, valid = _flat_valid(y_true, y_pred, self.ignore_label)
        truth = ops.one_hot(labels, probs.shape[-1]) * valid[:, None]
        probs = probs * valid[:, None]
        intersection = ops.sum(probs * truth, axis=0)
        total = ops.sum(probs, axis=0) + ops.sum(truth, axis=0)
        return 1.0 - (2.0 * intersection + self.smooth) / (total + self.smooth)

    def get_config(self) -> dict:
        return {**super().get_config(), "smooth": self.smooth, "ignore_label": self.ignore_label}


def lovasz_grad(ground_truth_sorted):
    """Gradient of the Lovász extension of the Jaccard loss w.r.t. errors sorted in decreasing order.

    ``ground_truth_sorted``: (classes, N) 0/1 foreground indicators in the order of decreasing error.
    Reference: Berman et al., Algorithm 1.
    """
    gts = ops.sum(ground_truth_sorted, axis=-1, keepdims=True)
    intersection = gts - ops.cumsum(ground_truth_sorted, axis=-1)
    union = gts + ops.cumsum(1.0 - ground_truth_sorted, axis=-1)
    jaccard = 1.0 - intersection / union
    return ops.concatenate([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], axis=-1)


@keras.saving.register_keras_serializable(package="kerasseg")
class LovaszSoftmaxLoss(keras.losses.Loss):
    """Lovász-softmax: a convex surrogate of ``1 - IoU`` per class, averaged over the classes in the labels.

    Reference: Berman, Rannen Triki & Blaschko, "The Lovász-Softmax loss: A tractable surrogate for the
    optimization of the intersection-over-union measure in neural networks", CVPR 2018 (the batch version,
    ``classes="present"``).

    For class c the pixel errors ``|1[y=c] - p_c|`` are sorted in decreasing order and dotted with the gradient of
    the Lovász extension (:func:`lovasz_grad`). Ignored pixels get error 0, so they sort last and add nothing.
    Sorting all pixels of the batch costs O(N log N) per class: a loss for fine-tuning rather than for
    large batches of large crops. Like :class:`DiceLoss` it returns one value per class (masked to the classes
    present in ``y_true``) and does not take ``sample_weight``.
    """

    def __init__(
        self,
        ignore_label: int = IGNORE_LABEL,
        name: str = "lovasz_softmax_loss",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.ignore_label = int(ignore_label)

    def call(self, y_true, y_pred):
        labels, probs, valid = _flat_valid(y_true, y_pred, self.ignore_label)
        foreground = ops.transpose(ops.one_hot(labels, probs.shape[-1]) * valid[:, None])
        errors = ops.abs(foreground - ops.transpose(probs)) * valid[None, :]
        order = ops.argsort(-errors, axis=-1)
        errors_sorted = ops.take_along_axis(errors, order, axis=-1)
        foreground_sorted = ops.take_along_axis(foreground, order, axis=-1)
        loss = ops.sum(errors_sorted * ops.stop_gradient(lovasz_grad(foreground_sorted)), axis=-1)
        return _mean_over(loss, ops.sum(foreground, axis=-1) > 0)

    def get_config(self) -> dict:
        return {**super().get_config(), "ignore_label": self.ignore_label}


LOSSES = {"ce": SegmentationCrossEntropy, "dice": DiceLoss, "lovasz": LovaszSoftmaxLoss}


def get_loss(
    name: str = "ce", class_weights: Sequence[float] | None = None, ignore_label: int = IGNORE_LABEL
) -> keras.losses.Loss:
    """Builds a loss by name: ``"ce"`` (optionally class-weighted), ``"dice"`` or ``"lovasz"``."""
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    if class_weights is not None and name != "ce":
        raise ValueError(f"class_weights are only used by the cross-entropy loss 'ce', not by {name!r}")
    if name == "ce":
        return SegmentationCrossEntropy(class_weights=class_weights, ignore_label=ignore_label)
    return LOSSES[name](ignore_label=ignore_label)
