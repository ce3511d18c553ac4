"""Training and evaluation input pipelines: shuffle, augment with albumentations inside ``tf.data``, batch.

The augmentation is the one of DeepLab (Chen et al., TPAMI 2017) and PSPNet (Zhao et al., CVPR 2017): random
scale 0.5–2.0, pad with the ignore label (masks) and the ImageNet mean (images), random crop, horizontal flip;
plus a mild colour jitter. Masks are resized with nearest neighbour, so they keep only valid labels.

Determinism: every example gets its own seed from ``tf.data.Dataset.random(seed)``, and albumentations is reseeded
per example, so the same ``seed`` gives the same batches however many threads run the map.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kerasseg.data.folders import lazy_source
from kerasseg.data.info import IGNORE_LABEL

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

# ImageNet mean RGB: a padded border looks like 0 after the backbone's own normalisation.
IMAGE_PAD = (124, 116, 104)
LAZY_SHUFFLE_BUFFER = 4096  # file names or encoded bytes: cheap, so (nearly) the whole split
DECODED_SHUFFLE_BUFFER = 64  # decoded images: ~2 MB each at 360×480


def build_augmentation(
    crop_size: tuple[int, int] | None,
    *,
    scale_range: tuple[float, float] | None = (0.5, 2.0),
    flip: bool = True,
    color_jitter: bool = True,
    image_pad=IMAGE_PAD,
    ignore_label: int = IGNORE_LABEL,
    focus_classes: Sequence[int] = (),
    focus_probability: float = 0.5,
):
    """The albumentations ``Compose``: colour jitter, random scale, pad, random crop to ``crop_size``, flip.

    ``crop_size=None`` keeps the image size (no scale, pad or crop). Images are interpolated bilinearly, masks
    with nearest neighbour; padding is ``image_pad`` for images and ``ignore_label`` for masks.

    Class-aware crops: with ``focus_classes`` (labels other than 0), a crop is, with ``focus_probability``, placed
    around a random pixel of those classes (albumentations' ``CropNonEmptyMaskIfExists``; a random crop when the
    image has none), so that thin and rare classes (CamVid's poles, signs, fences) are seen more often whole.
    """
    import albumentations as A
    import cv2

    transforms = []
    if color_jitter:
        # before any padding, so the padded border keeps exactly the pad value
        transforms.append(A.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.25, hue=0.03, p=0.8))
    if crop_size is not None:
        height, width = crop_size
        if scale_range is not None:
            low, high = scale_range
            transforms.append(
                A.RandomScale(
                    scale_limit=(low - 1.0, high - 1.0),
                    interpolation=cv2.INTER_LINEAR,
                    mask_interpolation=cv2.INTER_NEAREST_EXACT,  # same pixel grid as INTER_LINEAR
                    p=1.0,
                )
            )
        transforms += [
            A.PadIfNeeded(
                min_height=height,
                min_width=width,
                position="random",
                border_mode=cv2.BORDER_CONSTANT,
                fill=image_pad,
                fill_mask=ignore_label,
            ),
            _crop(height, width, focus_classes, focus_probability),
        ]
    if flip:
        transforms.append(A.HorizontalFlip(p=0.5))
    return A.Compose(transforms)


def _crop(height: int, width: int, focus_classes: Sequence[int], focus_probability: float):
    """A random crop, or one of :func:`build_augmentation`'s class-aware crops with ``focus_probability``."""
    import albumentations as A

    random_crop = A.RandomCrop(height, width, p=1.0)
    if not focus_classes or focus_probability == 0:
        return random_crop
    others = [value for value in range(256) if value not in set(focus_classes)]
    focus = A.CropNonEmptyMaskIfExists(height, width, ignore_values=others, p=focus_probability)
    random_crop.p = 1.0 - focus_probability
    return A.OneOf([random_crop, focus], p=1.0)  # picks one by its p


def check_focus(focus_classes: Sequence[int], focus_probability: float) -> None:
    """Focus classes are labels 1..254 (0 is albumentations' background), the probability in [0, 1]."""
    bad = [c for c in focus_classes if isinstance(c, bool) or not isinstance(c, int) or not 0 < c < IGNORE_LABEL]
    if bad:
        raise ValueError(f"focus_classes must be class labels from 1 to {IGNORE_LABEL - 1}, got {bad}")
    if not 0 <= focus_probability <= 1:
        raise ValueError(f"focus_probability must be between 0 and 1, got {focus_probability}")


def _reseed(compose, seed: int) -> None:
    # Compose.set_random_seed gives every transform the same seed, which would correlate their coin flips
    # (flip and jitter would always fire together); give each its own stream instead.
    states = np.random.SeedSequence(seed).generate_state(len(compose.transforms) + 1)
    compose.set_random_seed(int(states[0]))
    for transform, state in zip(compose.transforms, states[1:], strict=True):
        transform.set_random_seed(int(state))


class Augmenter:
    """``(image, mask, seed) -> (image, mask)`` on numpy arrays; one ``Compose`` per thread, reseeded per call."""

    def __init__(self, crop_size, **options):
        self.crop_size, self.options = crop_size, options
        self._local = threading.local()

    def __call__(self, image: np.ndarray, mask: np.ndarray, seed) -> tuple[np.ndarray, np.ndarray]:
        compose = getattr(self._local, "compose", None)
        if compose is None:
            compose = self._local.compose = build_augmentation(self.crop_size, **self.options)
        _reseed(compose, int(seed) % (1 << 63))
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        out = compose(image=image, mask=np.asarray(mask).astype(np.uint8))  # labels are <= 255 by contract
        return out["image"].astype(np.float32), out["mask"].astype(np.int32)


def _shuffled(ds: tf.data.Dataset, seed: int, buffer: int | None):
    """``(shuffled examples, decode or None)``: a lazy source is shuffled as file names / encoded bytes and
    ``decode`` is left to the caller, so that a worker decodes only its own examples."""
    lazy = lazy_source(ds)
    if lazy is not None:
        source, decode, size = lazy
        buffer = buffer or min(size or LAZY_SHUFFLE_BUFFER, LAZY_SHUFFLE_BUFFER)
        return source.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True), decode
    return ds.shuffle(buffer or DECODED_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True), None


def worker_slice(ds: tf.data.Dataset, batch_size: int, worker: tuple[int, int]) -> tf.data.Dataset:
    """Worker ``index`` of ``count``'s part of every global batch of ``batch_size`` consecutive examples.

    Every worker shuffles with the same seed, so all see one order; global batch ``k`` is cut into ``count``
    slices of ``batch_size // count`` and worker ``index`` keeps slice ``index``. The workers' examples are
    disjoint and together make the single-process batches: this is ``tf.data``'s ``AutoShardPolicy.DATA``
    applied before decoding and augmenting (TF's multi-worker input guide), so no worker decodes or
    augments an example it then drops. The trailing partial global batch is dropped.
    """
    index, count = worker
    if batch_size % count:
        raise ValueError(f"the global batch size {batch_size} does not divide among {count} workers")
    size = int(ds.cardinality())
    if size < 0:
        raise ValueError("multi-worker training needs a dataset of known size, to give all workers equal steps")
    per_worker, batches = batch_size // count, size // batch_size
    ds = ds.take(batches * batch_size).enumerate()
    ds = ds.filter(lambda position, _: position % batch_size // per_worker == index)
    # a known size, so that counting the steps does not read (and reshuffle) the data
    ds = ds.map(lambda _, example: example)
    return ds.apply(tf.data.experimental.assert_cardinality(batches * per_worker))


def make_train_pipeline(
    ds: tf.data.Dataset,
    batch_size: int,
    crop_size: tuple[int, int] | None = None,
    seed: int = 0,
    augment: bool = True,
    *,
    scale_range: tuple[float, float] | None = (0.5, 2.0),
    color_jitter: bool = True,
    shuffle_buffer: int | None = None,
    ignore_label: int = IGNORE_LABEL,
    worker: tuple[int, int] | None = None,
    focus_classes: Sequence[int] = (),
    focus_probability: float = 0.5,
) -> tf.data.Dataset:
    """Shuffled, augmented, batched, prefetched ``(images (B, h, w, 3) float32, masks (B, h, w) int32)``.

    ``crop_size=(h, w)``: random scale in ``scale_range``, pad, random crop (``augment=False``: pad and random
    crop only). ``crop_size=None``: no scale or crop, so images must share one size to be batched.
    ``augment`` also adds the horizontal flip and the colour jitter. The last partial batch is dropped.
    ``focus_classes``, ``focus_probability``: class-aware crops (see :func:`build_augmentation`).

    ``worker=(index, count)``: this worker's share of each global batch of ``batch_size`` (see
    :func:`worker_slice`), batched by ``batch_size // count``; each example keeps the augmentation seed it has in
    the single-process pipeline, so the workers' batches together equal it.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if crop_size is not None and (len(crop_size) != 2 or min(crop_size) < 1):
        raise ValueError(f"crop_size must be (height, width) with positive sides, got {crop_size}")
    check_focus(focus_classes, focus_probability)
    ds, decode = _shuffled(ds, seed, shuffle_buffer)
    # per-example augmentation seeds are attached in the shuffled order, before a worker takes its slice
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True))
    if worker is not None:
        ds = worker_slice(ds, batch_size, worker)
        batch_size //= worker[1]
    if decode is not None:
        ds = ds.map(
            lambda example, s: (decode(*example), s), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    if augment or crop_size is not None:
        augmenter = Augmenter(
            None if crop_size is None else tuple(int(s) for s in crop_size),
            scale_range=scale_range if augment else None,
            flip=augment,
            color_jitter=augment and color_jitter,
            ignore_label=ignore_label,
            focus_classes=tuple(focus_classes),
            focus_probability=focus_probability,
        )
        height, width = crop_size if crop_size is not None else (None, None)

        def augment_example(example, example_seed):
            image, mask = example
            image, mask = tf.numpy_function(
                augmenter, [image, mask, example_seed], [tf.float32, tf.int32], stateful=False
            )
            image.set_shape([height, width, 3])
            mask.set_shape([height, width])
            return image, mask

        ds = ds.map(augment_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(lambda example, _: example)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def make_eval_pipeline(
    ds: tf.data.Dataset,
    batch_size: int = 1,
    size: tuple[int, int] | None = None,
    *,
    ignore_label: int = IGNORE_LABEL,
) -> tf.data.Dataset:
    """Batched, prefetched evaluation data in the dataset's order, no augmentation.

    ``size=(h, w)`` resizes images bilinearly and masks with nearest neighbour. Without it, a batch of images of
    different sizes is padded to the largest (images with 0, masks with ``ignore_label``, so metrics skip it).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if size is not None:
        height, width = (int(s) for s in size)

        def resize(image, mask):
            image = tf.image.resize(image, (height, width), method="bilinear")
            mask = tf.image.resize(mask[..., None], (height, width), method="nearest")[..., 0]
            return image, mask

        ds = ds.map(resize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)
    else:
        ds = ds.padded_batch(
            batch_size, padding_values=(tf.constant(0.0), tf.constant(ignore_label, tf.int32))
        )
    return ds.prefetch(tf.data.AUTOTUNE)
