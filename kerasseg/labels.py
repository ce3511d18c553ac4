"""The label contract that losses and metrics share: class ids in ``[0, classes)`` or the ignore label, anything
else refused with one short message (not TensorFlow's dump of every label of the batch)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _message_parts(value, pixels, classes: int, ignore_label: int) -> list:
    return [
        "mask label", value, f"is outside 0..{classes - 1} and is not the ignore label {ignore_label}, in", pixels,
        "pixels: check the class count of the data",
    ]


def label_error(value, pixels, classes: int, ignore_label: int) -> str:
    """``mask label 50 is outside 0..2 and is not the ignore label 255, in 12 pixels: ...``."""
    return " ".join(str(part) for part in _message_parts(value, pixels, classes, ignore_label))


def check_label_array(labels: np.ndarray, classes: int, ignore_label: int) -> None:
    """Raises ``ValueError`` (:func:`label_error`) when a label lies outside ``[0, classes)`` ∪ {ignore_label}."""
    labels = np.asarray(labels)
    bad = (labels < 0) | ((labels >= classes) & (labels != ignore_label))
    if bad.any():
        raise ValueError(label_error(int(labels[bad].max()), int(bad.sum()), classes, ignore_label))


def checked_labels(labels, classes: int, ignore_label: int):
    """``labels`` (an int tensor) once checked against ``[0, classes)`` ∪ {ignore_label}: eagerly a ``ValueError``,
    in a traced step an ``InvalidArgumentError`` of the same message that runs before any op reads the labels
    (``kerasseg.data.folders.file_errors`` gives it back as the ``ValueError``). XLA-compiled steps
    (``jit_compile``) skip assertions: there a bad label shows as a NaN loss."""
    if tf.executing_eagerly():
        check_label_array(np.asarray(labels), classes, ignore_label)
        return labels
    bad = tf.logical_or(labels < 0, tf.logical_and(labels >= classes, labels != ignore_label))
    value = tf.reduce_max(tf.where(bad, labels, tf.reduce_min(labels)))
    pixels = tf.reduce_sum(tf.cast(bad, "int32"))
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad)), _message_parts(value, pixels, classes, ignore_label)
    )
    with tf.control_dependencies([check]):
        return tf.identity(labels)
