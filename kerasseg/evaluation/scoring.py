"""``evaluate``: mIoU, per-class IoU, class-average and global accuracy of a model over a dataset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import keras
import numpy as np

from kerasseg.data.info import IGNORE_LABEL
from kerasseg.evaluation.crf import DEEPLAB_CRF, dense_crf
from kerasseg.evaluation.inference import ModelLike, predict_probabilities
from kerasseg.metrics import SegmentationScores, confusion_matrix


def _batches(dataset) -> Iterable:
    if hasattr(dataset, "as_numpy_iterator"):
        return dataset.as_numpy_iterator()
    return iter(dataset)


def _as_batch(images, masks):
    """(batch, H, W, 3) images and (batch, H, W) masks from batched or single elements."""
    images, masks = np.asarray(images, np.float32), np.asarray(masks)
    if images.ndim == 3:
        images, masks = images[None], masks[None]
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    if images.shape[:3] != masks.shape:
        raise ValueError(f"mask shape {masks.shape} does not match image shape {images.shape}")
    return images, masks


def _length(dataset, max_batches: int | None) -> int | None:
    """The number of elements to evaluate when it is known (for the progress bar)."""
    try:
        count = int(dataset.cardinality()) if hasattr(dataset, "cardinality") else len(dataset)
    except TypeError:
        count = -1
    if count < 0:
        return max_batches
    return count if max_batches is None else min(count, max_batches)


def output_classes(model: ModelLike) -> int | None:
    """Class count of a Keras model's ``logits`` output, ``None`` for callables."""
    if not isinstance(model, keras.Model):
        return None
    output = model.output["logits"] if isinstance(model.output, dict) else model.output
    return int(output.shape[-1])


def evaluate(
    model: ModelLike,
    dataset,
    num_classes: int | None = None,
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crop_size: tuple[int, int] | None = None,
    overlap: float = 1 / 3,
    crf: bool = False,
    crf_params: dict | None = None,
    ignore_label: int = IGNORE_LABEL,
    class_names: Sequence[str] | None = None,
    max_batches: int | None = None,
    verbose: int = 0,
) -> SegmentationScores:
    """Scores of ``model`` on ``dataset`` from one confusion matrix accumulated over every image.

    Args:
        model: a Keras model (logits or ``{"logits", "aux"}`` output) or a callable ``images -> logits``.
        dataset: a ``tf.data.Dataset`` or iterable of ``(image, mask)``, batched or not; images RGB float in
            [0, 255], masks int with ``ignore_label`` for unlabelled pixels.
        num_classes: taken from the model's output when omitted.
        scales, flip, crop_size, overlap: test-time inference, see :func:`predict_probabilities`
            (single scale by default; PSPNet's multi-scale protocol is ``scales=(0.5, 0.75, 1, 1.25, 1.5, 1.75),
            flip=True``).
        crf: refine each image's probabilities with a dense CRF (:func:`dense_crf`, DeepLab's settings updated
            by ``crf_params``).
        max_batches: stop after this many dataset elements.

    Returns:
        :class:`SegmentationScores`: ``.miou``, ``.iou`` (per class), ``.class_accuracy``,
        ``.global_accuracy``, ``.confusion`` and ``.summary()``.
    """
    num_classes = num_classes or output_classes(model)
    if not num_classes:
        raise ValueError("num_classes is required when the model is not a Keras model")
    params = {**DEEPLAB_CRF, **(crf_params or {})}
    if set(params) != set(DEEPLAB_CRF):
        raise ValueError(
            f"unknown crf_params {sorted(set(params) - set(DEEPLAB_CRF))}; valid: {sorted(DEEPLAB_CRF)}"
        )
    total = np.zeros((num_classes, num_classes), np.int64)
    progress = keras.utils.Progbar(_length(dataset, max_batches)) if verbose else None
    for step, (images, masks) in enumerate(_batches(dataset)):
        if max_batches is not None and step >= max_batches:
            break
        images, masks = _as_batch(images, masks)
        probs = predict_probabilities(
            model, images, scales=scales, flip=flip, crop_size=crop_size, overlap=overlap
        )
        if probs.shape[-1] != num_classes:
            raise ValueError(f"the model predicts {probs.shape[-1]} classes but num_classes is {num_classes}")
        if crf:
            probs = np.stack([dense_crf(img, p, **params) for img, p in zip(images, probs, strict=True)])
        total += confusion_matrix(masks, probs.argmax(axis=-1), num_classes, ignore_label)
        if progress is not None:
            progress.update(step + 1)
    if progress is not None and progress.target is None:
        print()  # a progress bar of unknown length does not end its line
    if not total.any():
        raise ValueError("the dataset gave no labelled pixels to evaluate")
    return SegmentationScores(total, tuple(class_names) if class_names else None)
