"""PASCAL VOC 2012 semantic segmentation (21 classes, 255 = boundary/ignore) as a tensorflow-datasets builder.

Reference: Everingham et al., "The PASCAL Visual Object Classes Challenge: A Retrospective", IJCV 2015; the
augmented train set: Hariharan et al., "Semantic Contours from Inverse Detectors" (SBD), ICCV 2011, as used by
DeepLab (Chen et al., TPAMI 2017): 10582 train images.

tfds' own ``voc`` builder has detection boxes but no masks, hence this builder, ``voc2012_segmentation``:

* config ``segmentation``: the official split, train 1464 / val 1449, palette PNG masks (index = class).
* config ``aug``: train = every mask of ``SegmentationClassAug`` (SBD + VOC, index PNGs) not in the official val
  (10582 of 12031), or the ids of ``train_aug.txt`` when given; val = the official 1449.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasseg.data.info import IGNORE_LABEL, DatasetInfo, voc_palette
from kerasseg.data.masks import LabelMapping, check_sizes, open_image
from kerasseg.data.tfds_source import contract_dataset, prepare

CLASS_NAMES = [
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
]  # fmt: skip
VOC_TAR = "VOCtrainval_11-May-2012.tar"
AUG_NAME = "SegmentationClassAug"
LICENSE = (
    "PASCAL VOC 2012: images from Flickr, subject to the Flickr terms of use; annotations under the VOC challenge "
    "terms. SBD (aug config): research use, cite Hariharan et al. 2011"
)
CONFIGS = {"voc2012": "segmentation", "voc2012-aug": "aug"}
INSTRUCTIONS = f"""Put these files in the manual download folder (default <data_dir>/downloads/manual/):
* {VOC_TAR} (1.9 GB, http://host.robots.ox.ac.uk/pascal/VOC/voc2012/), or its extracted VOCdevkit/ folder;
* for the "aug" config also {AUG_NAME}.zip or the extracted {AUG_NAME}/ folder (12031 index PNGs, the SBD masks
  converted to VOC's format, as distributed with DeepLab), and optionally train_aug.txt (the 10582 ids).
"""
CITATION = """@article{everingham2015pascal, title={The Pascal Visual Object Classes Challenge: A Retrospective},
  author={Everingham, M. and Eslami, S. M. A. and Van Gool, L. and Williams, C. K. I. and Winn, J. and
  Zisserman, A.}, journal={International Journal of Computer Vision}, volume={111}, pages={98--136}, year={2015}}"""


def _ids(list_file: Path) -> list[str]:
    """Image ids of a list file: plain ids, or DeepLab-style ``/JPEGImages/x.jpg /SegmentationClassAug/x.png``."""
    if not list_file.is_file():
        raise FileNotFoundError(f"VOC split list {list_file} does not exist")
    return [Path(line.split()[0]).stem for line in list_file.read_text().splitlines() if line.strip()]


def _find_dir(root: Path, name: str) -> Path | None:
    if (root / name).is_dir():
        return root / name
    return next((p for p in sorted(root.rglob(name)) if p.is_dir() and "__MACOSX" not in p.parts), None)


class Voc2012Segmentation(tfds.core.GeneratorBasedBuilder):
    """PASCAL VOC 2012 segmentation masks (configs ``segmentation`` and ``aug``), from the official tar."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Official and SBD-augmented segmentation splits."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = INSTRUCTIONS
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="segmentation", description="Official split: train 1464, val 1449."),
        tfds.core.BuilderConfig(name="aug", description="SBD-augmented train 10582, official val 1449."),
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            description="PASCAL VOC 2012 semantic segmentation: 20 object classes + background, 255 = ignore.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
                    "segmentation_mask": tfds.features.Image(shape=(None, None, 1), encoding_format="png"),
                    "image/filename": tfds.features.Text(),
                }
            ),
            supervised_keys=("image", "segmentation_mask"),
            homepage="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/",
            citation=CITATION,
            license=LICENSE,
        )

    def _voc_root(self, dl_manager, manual: Path) -> Path:
        found = _find_dir(manual, "VOC2012")
        if found is None and (manual / VOC_TAR).is_file():
            found = _find_dir(Path(dl_manager.extract(str(manual / VOC_TAR))), "VOC2012")
        if found is None:
            raise FileNotFoundError(
                f"neither {manual / VOC_TAR} nor an extracted VOCdevkit/VOC2012 in {manual}"
            )
        return found

    def _aug_dir(self, dl_manager, manual: Path) -> Path:
        found = _find_dir(manual, AUG_NAME)
        if found is None and (manual / f"{AUG_NAME}.zip").is_file():
            found = _find_dir(Path(dl_manager.extract(str(manual / f"{AUG_NAME}.zip"))), AUG_NAME)
        if found is None:
            raise FileNotFoundError(f"the 'aug' config needs {manual / AUG_NAME}.zip or a {AUG_NAME}/ folder")
        return found

    def _split_generators(self, dl_manager):
        manual = Path(dl_manager.manual_dir)
        voc = self._voc_root(dl_manager, manual)
        lists = voc / "ImageSets" / "Segmentation"
        val_ids = _ids(lists / "val.txt")
        if self.builder_config.name == "segmentation":
            train_ids, train_masks = _ids(lists / "train.txt"), voc / "SegmentationClass"
        else:
            train_masks = self._aug_dir(dl_manager, manual)
            if (manual / "train_aug.txt").is_file():
                train_ids = _ids(manual / "train_aug.txt")
            else:
                val = set(val_ids)
                train_ids = sorted(p.stem for p in train_masks.glob("*.png") if p.stem not in val)
        return {
            "train": self._generate_examples(voc / "JPEGImages", train_masks, train_ids),
            "val": self._generate_examples(voc / "JPEGImages", voc / "SegmentationClass", val_ids),
        }

    def _generate_examples(self, images: Path, masks: Path, ids: list[str]):
        mapping = LabelMapping(num_classes=len(CLASS_NAMES))
        for image_id in ids:
            image_path, mask_path = images / f"{image_id}.jpg", masks / f"{image_id}.png"
            check_sizes(image_path, mask_path)
            with open_image(mask_path, "mask") as mask:
                labels = mapping(mask, mask_path)  # palette index = class id; 255 (boundary) kept
            yield (
                image_id,
                {
                    "image": image_path,
                    "segmentation_mask": labels.astype(np.uint8)[..., None],
                    "image/filename": image_path.name,
                },
            )


def load(spec: str, split: str, data_dir: str | None = None, manual_dir: str | None = None):
    """``(dataset, DatasetInfo)`` of "voc2012" or "voc2012-aug" (split "train" or "val"), preparing it once."""
    builder = Voc2012Segmentation(config=CONFIGS[spec], data_dir=data_dir)
    prepare(builder, manual_dir, INSTRUCTIONS)
    ds = contract_dataset(builder, split, "image", "segmentation_mask", lambda m: tf.squeeze(m, -1))
    info = DatasetInfo(
        name=spec,
        num_classes=len(CLASS_NAMES),
        class_names=list(CLASS_NAMES),
        ignore_label=IGNORE_LABEL,
        palette=voc_palette(len(CLASS_NAMES)),
        num_examples=builder.info.splits[split].num_examples,
        license=LICENSE,
    )
    return ds, info
