"""Oxford-IIIT Pet trimaps from tfds' ``oxford_iiit_pet``: 2 classes, background and pet; the border is ignored.

Reference: Parkhi et al., "Cats and Dogs", CVPR 2012. 37 breeds, 7349 images; tfds splits "train" (3680) and
"test" (3669); "val" is accepted as the name of "test", the only held-out split.

Trimap values: 1 = pet, 2 = background, 3 = border ("not classified", a band a few pixels wide around the pet).
Choice: background → class 0, pet → class 1 (so class 0 is background, as in VOC), border → ignore (255), since
the dataset's authors mark it as uncertain. ``trimap_to_labels(..., border="class")`` makes it class 2 instead.
The data is downloaded by tfds on first use (about 800 MB); nothing here downloads at import.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasseg.data.info import IGNORE_LABEL, DatasetInfo
from kerasseg.data.tfds_source import contract_dataset, import_tfds, prepare

CLASS_NAMES = ["background", "pet"]
PALETTE = np.array([(0, 0, 0), (128, 0, 0)], np.uint8)
PET, BACKGROUND, BORDER = 1, 2, 3
LICENSE = "Oxford-IIIT Pet: Creative Commons Attribution-ShareAlike 4.0"
SPLIT_NAMES = {"train": "train", "test": "test", "val": "test"}


def trimap_to_labels(trimap: tf.Tensor, border: str = "ignore") -> tf.Tensor:
    """Trimap ``(H, W)`` or ``(H, W, 1)`` with values 1/2/3 → int32 ``(H, W)``: background 0, pet 1, border 255.

    ``border="class"`` maps the border to class 2. Values other than 1, 2, 3 become the ignore label.
    """
    if border not in ("ignore", "class"):
        raise ValueError(f"border must be 'ignore' or 'class', got {border!r}")
    trimap = tf.convert_to_tensor(trimap)
    if trimap.shape.rank == 3:
        trimap = tf.squeeze(trimap, -1)
    border_label = IGNORE_LABEL if border == "ignore" else 2
    # index = trimap value: [unused 0, pet, background, border], anything larger is ignored
    table = tf.constant([IGNORE_LABEL, 1, 0, border_label], tf.int32)
    values = tf.cast(trimap, tf.int32)
    valid = (values >= 0) & (values < 4)
    return tf.where(valid, tf.gather(table, tf.clip_by_value(values, 0, 3)), IGNORE_LABEL)


def load(split: str, data_dir: str | None = None):
    """``(dataset, DatasetInfo)`` of Oxford-IIIT Pet; tfds downloads and prepares it on first use."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"unknown Oxford-IIIT Pet split {split!r}; valid splits: {', '.join(SPLIT_NAMES)}")
    tfds = import_tfds()
    builder = tfds.builder("oxford_iiit_pet", data_dir=data_dir)
    prepare(builder)  # downloads on first use
    ds = contract_dataset(builder, SPLIT_NAMES[split], "image", "segmentation_mask", trimap_to_labels)
    info = DatasetInfo(
        name="pets",
        num_classes=2,
        class_names=list(CLASS_NAMES),
        palette=PALETTE,
        num_examples=builder.info.splits[SPLIT_NAMES[split]].num_examples,
        license=LICENSE,
    )
    return ds, info
