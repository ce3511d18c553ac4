"""Datasets as ``tf.data`` of ``(image, mask)``, their facts, checks and input pipelines.

    ds, info = load_dataset("camvid", "train")       # image float32 (H, W, 3) in [0, 255], mask int32 (H, W)
    train_ds = make_train_pipeline(ds, 8, crop_size=(360, 480))
    print(check_dataset("folder:images:masks", classes=3))

Masks hold class ids in ``[0, info.num_classes)`` and 255 = ignore. tensorflow-datasets (VOC 2012, Oxford Pets)
and albumentations (training augmentation) are imported only when used.
"""

from kerasseg.data.check import DataReport, check_dataset, preflight
from kerasseg.data.datasets import DATASETS, load_dataset
from kerasseg.data.info import IGNORE_LABEL, DatasetInfo, colorize, voc_palette
from kerasseg.data.masks import LabelMapping, read_pair
from kerasseg.data.pipelines import build_augmentation, make_eval_pipeline, make_train_pipeline

__all__ = [
    "DATASETS",
    "IGNORE_LABEL",
    "DataReport",
    "DatasetInfo",
    "LabelMapping",
    "build_augmentation",
    "check_dataset",
    "colorize",
    "load_dataset",
    "make_eval_pipeline",
    "make_train_pipeline",
    "preflight",
    "read_pair",
    "voc_palette",
]
