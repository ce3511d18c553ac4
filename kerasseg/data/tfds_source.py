"""Turning a tensorflow-datasets builder into the ``(image, mask)`` contract, decoding after any shuffle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from kerasseg.data.folders import register_lazy_source


def import_tfds():
    """``tensorflow_datasets``, or an error that says how to install it (it is the ``data`` extra)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise ImportError(
            "tensorflow-datasets is needed for this dataset: pip install 'kerasseg[data]' "
            "(tensorflow-datasets==4.9.10 importlib_resources)"
        ) from err
    return tfds


def prepare(builder, manual_dir: str | Path | None = None, instructions: str = "") -> None:
    """Builds the dataset's TFRecords once (no-op when prepared); a missing manual download is a clear error."""
    if builder.is_prepared():
        return
    tfds = import_tfds()
    config = tfds.download.DownloadConfig(try_download_gcs=False)
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        manual_dir = Path(manual_dir) if manual_dir else Path(builder.data_dir_root) / "downloads" / "manual"
        if not manual_dir.is_dir() or not any(manual_dir.iterdir()):
            raise FileNotFoundError(
                f"{builder.name}: the manual download folder {manual_dir} is missing or empty. {instructions}"
            )
        config = tfds.download.DownloadConfig(manual_dir=str(manual_dir), try_download_gcs=False)
    import requests

    try:
        builder.download_and_prepare(download_config=config)
    except (ConnectionError, requests.RequestException) as err:  # offline, or the host is down
        reason = str(err).splitlines()[0][:300]
        raise ConnectionError(
            f"{builder.name}: the download failed ({reason}). Without network, prepare it with tfds where there "
            f"is network and pass that folder as data_dir=DIR"
        ) from None


def contract_dataset(
    builder, split: str, image_key: str, mask_key: str, to_labels: Callable[[tf.Tensor], tf.Tensor]
) -> tf.data.Dataset:
    """``(image float32 (H, W, 3), mask int32 (H, W))`` of a prepared builder's split.

    ``to_labels`` maps the decoded ``(H, W, 1)`` uint8 mask to int32 class ids / ignore. The encoded examples are
    registered as the dataset's lazy source, so a training pipeline shuffles encoded bytes, not decoded images.
    """
    tfds = import_tfds()
    if split not in builder.info.splits:
        raise ValueError(
            f"{builder.name} has no split {split!r}; valid splits: {', '.join(builder.info.splits)}"
        )
    skip = tfds.decode.SkipDecoding()
    encoded = builder.as_dataset(split=split, decoders={image_key: skip, mask_key: skip}, shuffle_files=False)
    encoded = encoded.map(lambda ex: (ex[image_key], ex[mask_key]))
    image_feature, mask_feature = builder.info.features[image_key], builder.info.features[mask_key]

    def decode(image_bytes, mask_bytes):
        image = image_feature.decode_example(image_bytes)
        image.set_shape([None, None, 3])
        mask = to_labels(mask_feature.decode_example(mask_bytes))
        return tf.cast(image, tf.float32), tf.cast(mask, tf.int32)

    ds = encoded.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    register_lazy_source(ds, encoded, decode, builder.info.splits[split].num_examples)
    return ds
