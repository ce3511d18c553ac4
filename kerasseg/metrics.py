"""Segmentation scores from one confusion matrix accumulated over a whole dataset (label 255 ignored).

mIoU is computed from the summed confusion matrix of every image, never averaged over batches: a class that
is absent from one batch would otherwise count as 0 (or be skipped) in that batch and bias the mean.
Reference for the measures: Long et al., "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015,
section 5 (pixel accuracy, mean accuracy, mean IU).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from kerasseg.data.info import IGNORE_LABEL
from kerasseg.labels import check_label_array, checked_labels


def confusion_matrix(y_true, y_pred, num_classes: int, ignore_label: int = IGNORE_LABEL) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = true class, columns = predicted class.

    ``y_true`` and ``y_pred`` are int label maps of the same shape; pixels labelled ``ignore_label`` are
    skipped, any other label outside ``[0, num_classes)`` is an error (a mask/model class-count mismatch).
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"labels have {y_true.size} pixels but predictions have {y_pred.size}")
    check_label_array(y_true, num_classes, ignore_label)
    keep = y_true != ignore_label
    y_true, y_pred = y_true[keep], y_pred[keep]
    if ((y_pred < 0) | (y_pred >= num_classes)).any():
        raise ValueError(f"predicted labels must lie in 0..{num_classes - 1}")
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


@dataclass(frozen=True)
class SegmentationScores:
    """The scores of a confusion matrix (rows = truth, columns = prediction).

    Classes that appear neither in the labels nor in the predictions have IoU ``nan`` and are left out of
    the mean (the convention of ``keras.metrics.MeanIoU`` and of the VOC development kit's per-class table).
    """

    confusion: np.ndarray
    class_names: tuple[str, ...] | None = None

    @property
    def num_classes(self) -> int:
        return self.confusion.shape[0]

    @property
    def iou(self) -> np.ndarray:
        """Per-class IoU = TP / (TP + FP + FN), ``nan`` for classes never labelled nor predicted."""
        cm = self.confusion.astype(np.float64)
        tp = np.diag(cm)
        union = cm.sum(axis=0) + cm.sum(axis=1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    @property
    def miou(self) -> float:
        iou = self.iou
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")

    @property
    def accuracy(self) -> np.ndarray:
        """Per-class accuracy (recall) = TP / labelled pixels of the class, ``nan`` for unlabelled classes."""
        cm = self.confusion.astype(np.float64)
        labelled = cm.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(labelled > 0, np.diag(cm) / labelled, np.nan)

    @property
    def class_accuracy(self) -> float:
        """Class-average accuracy ("mean accuracy" in FCN, "class avg." in SegNet)."""
        acc = self.accuracy
        return float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")

    @property
    def global_accuracy(self) -> float:
        """Pixel accuracy over all labelled pixels ("global avg." in SegNet)."""
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else float("nan")

    def names(self) -> list[str]:
        if self.class_names is not None and len(self.class_names) == self.num_classes:
            return list(self.class_names)
        return [f"class {c}" for c in range(self.num_classes)]

    def to_dict(self) -> dict:
        """JSON-friendly scores (``nan`` becomes ``None``)."""

        def clean(v):
            return None if v != v else round(float(v), 6)

        return {
            "miou": clean(self.miou),
            "class_accuracy": clean(self.class_accuracy),
            "global_accuracy": clean(self.global_accuracy),
            "iou": {n: clean(v) for n, v in zip(self.names(), self.iou, strict=True)},
            "pixels": int(self.confusion.sum()),
        }

    def summary(self) -> str:
        """A per-class IoU / accuracy table followed by mIoU, class-average and global accuracy."""
        names = self.names()
        width = max(len("class avg. accuracy"), *(len(n) for n in names))
        labelled = self.confusion.sum(axis=1)
        lines = [f"{'class':<{width}}  {'IoU':>7}  {'acc':>7}  {'pixels':>12}"]
        for name, iou, acc, n in zip(names, self.iou, self.accuracy, labelled, strict=True):
            lines.append(f"{name:<{width}}  {_pct(iou):>7}  {_pct(acc):>7}  {int(n):>12,}")
        lines.append(f"{'mIoU':<{width}}  {_pct(self.miou):>7}")
        lines.append(f"{'class avg. accuracy':<{width}}  {_pct(self.class_accuracy):>7}")
        lines.append(f"{'global accuracy':<{width}}  {_pct(self.global_accuracy):>7}")
        return "\n".join(lines)


def _pct(value: float) -> str:
    return "-" if value != value else f"{100 * value:.2f}"


@keras.saving.register_keras_serializable(package="kerasseg")
class MeanIoU(keras.metrics.MeanIoU):
    """mIoU of logits against int masks, from a confusion matrix summed over every batch; label 255 ignored.

    Use in ``model.compile(metrics=[MeanIoU(classes)])``: the argmax over the class axis happens inside.
    ``scores()`` gives per-class IoU, class-average and global accuracy of the accumulated matrix, and
    ``summary(class_names)`` prints them. Labels outside ``[0, num_classes)`` other than ``ignore_label`` are
    refused as the losses refuse them (:func:`kerasseg.labels.checked_labels`), not silently dropped.
    """

    def __init__(self, num_classes: int, ignore_label: int = IGNORE_LABEL, name: str = "miou", dtype=None):
        super().__init__(
            num_classes=num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_label,
            sparse_y_true=True,
            sparse_y_pred=False,
        )
        self.ignore_label = int(ignore_label)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if len(y_true.shape) == len(y_pred.shape):
            y_true = keras.ops.squeeze(y_true, axis=-1)
        y_true = checked_labels(keras.ops.cast(y_true, "int32"), self.num_classes, self.ignore_label)
        return super().update_state(y_true, y_pred, sample_weight)

    def confusion_matrix(self) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(self.total_cm)).astype(np.int64)

    def scores(self, class_names: Sequence[str] | None = None) -> SegmentationScores:
        return SegmentationScores(self.confusion_matrix(), tuple(class_names) if class_names else None)

    def summary(self, class_names: Sequence[str] | None = None) -> str:
        return self.scores(class_names).summary()

    def get_config(self) -> dict:
        return {
            "num_classes": self.num_classes,
            "ignore_label": self.ignore_label,
            "name": self.name,
            "dtype": self.dtype,
        }
