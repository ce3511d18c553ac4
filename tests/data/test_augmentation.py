"""Training/evaluation pipelines: image/mask alignment under the geometric transforms, valid labels, seeding."""

import numpy as np
import pytest
import tensorflow as tf

from kerasseg.data import make_eval_pipeline, make_train_pipeline
from kerasseg.data.pipelines import IMAGE_PAD

SIZE = 64


def _blocky_examples(count: int, seed: int = 0):
    """Images of 8×8-pixel blocks whose red channel is 0 or 255; the mask is the thresholded red channel."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 2, (count, SIZE // 8, SIZE // 8)).repeat(8, axis=1).repeat(8, axis=2)
    images = rng.integers(0, 256, (count, SIZE, SIZE, 3)).astype(np.float32)
    images[..., 0] = blocks * 255.0
    masks = (images[..., 0] > 127).astype(np.int32)
    return images, masks


def _dataset(images, masks):
    return tf.data.Dataset.from_tensor_slices((images, masks))


def test_geometric_transforms_keep_image_and_mask_aligned():
    images, masks = _blocky_examples(16)
    # crop 72 > 64: pads below scale 1.125 (~40% of examples), crops above
    ds = make_train_pipeline(_dataset(images, masks), 4, crop_size=(72, 72), seed=5, color_jitter=False)
    pure_pixels = padded = labelled = 0
    for x, y in ds.as_numpy_iterator():
        assert x.shape == (4, 72, 72, 3) and y.shape == (4, 72, 72)
        assert x.dtype == np.float32 and y.dtype == np.int32
        red = x[..., 0]
        # bilinear images blend at block edges: compare where the red channel is still pure 0 or 255
        pure = (y != 255) & ((red < 30) | (red > 225))
        np.testing.assert_array_equal(y[pure], (red[pure] > 127).astype(np.int32))
        pure_pixels += pure.sum()
        # the padded border is the ignore label in the mask and exactly the pad colour in the image
        np.testing.assert_array_equal(x[y == 255], np.broadcast_to(IMAGE_PAD, x[y == 255].shape))
        padded += (y == 255).sum()
        labelled += (y != 255).sum()
    assert pure_pixels > 0.5 * labelled  # most pixels were compared
    assert padded > 0  # some examples were scaled below the crop size


def test_masks_keep_only_valid_labels_with_colour_jitter():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (8, SIZE, SIZE, 3)).astype(np.float32)
    masks = rng.choice(np.array([0, 1, 2, 255], np.int32), (8, SIZE, SIZE))
    for x, y in make_train_pipeline(
        _dataset(images, masks), 4, crop_size=(40, 40), seed=1
    ).as_numpy_iterator():
        assert set(np.unique(y).tolist()) <= {0, 1, 2, 255}
        assert x.min() >= 0 and x.max() <= 255


def _batches(ds, count=2):
    return [tuple(part.numpy() for part in batch) for batch in ds.take(count)]


def test_same_seed_gives_same_batches_and_another_seed_does_not():
    images, masks = _blocky_examples(8)

    def run(seed):
        return _batches(make_train_pipeline(_dataset(images, masks), 2, crop_size=(32, 32), seed=seed), 3)

    first, again, other = run(7), run(7), run(8)
    for (x1, y1), (x2, y2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True))


def test_epochs_differ():
    images, masks = _blocky_examples(4)
    ds = make_train_pipeline(_dataset(images, masks), 4, crop_size=(32, 32), seed=0)
    (epoch1,), (epoch2,) = _batches(ds, 1), _batches(ds, 1)
    assert not np.array_equal(epoch1[0], epoch2[0])


def test_without_augmentation_only_pad_and_crop():
    images, masks = _blocky_examples(2)
    ds = make_train_pipeline(_dataset(images, masks), 2, crop_size=(80, 72), seed=0, augment=False)
    x, y = next(ds.as_numpy_iterator())
    for image, mask in zip(x, y, strict=True):
        inside = mask != 255
        assert inside.sum() == SIZE * SIZE  # no scaling: the whole 64×64 image, padded to 80×72
        rows, cols = np.nonzero(inside)
        r, c = rows.min(), cols.min()
        matches = [np.array_equal(image[r : r + SIZE, c : c + SIZE], images[k]) for k in range(2)]
        assert any(matches)


def test_no_crop_keeps_sizes_and_batches_equal_sized_images():
    images, masks = _blocky_examples(4)
    x, y = next(make_train_pipeline(_dataset(images, masks), 4, seed=0).as_numpy_iterator())
    assert x.shape == (4, SIZE, SIZE, 3) and y.shape == (4, SIZE, SIZE)


def test_bad_arguments():
    images, masks = _blocky_examples(1)
    with pytest.raises(ValueError, match="batch_size"):
        make_train_pipeline(_dataset(images, masks), 0)
    with pytest.raises(ValueError, match="crop_size"):
        make_train_pipeline(_dataset(images, masks), 1, crop_size=(0, 4))


def test_eval_pipeline_resizes_masks_with_nearest_and_keeps_order():
    images, masks = _blocky_examples(3)
    masks[:, :8, :8] = 255
    x, y = next(make_eval_pipeline(_dataset(images, masks), 3, size=(32, 32)).as_numpy_iterator())
    assert x.shape == (3, 32, 32, 3) and y.shape == (3, 32, 32)
    assert set(np.unique(y).tolist()) <= {0, 1, 255}
    np.testing.assert_array_equal(y, masks[:, ::2, ::2])  # 2× nearest downscale of 8-pixel blocks


def test_eval_pipeline_pads_mixed_sizes_with_ignore():
    ds = tf.data.Dataset.from_generator(
        lambda: iter([(np.ones((4, 6, 3), np.float32), np.ones((4, 6), np.int32)),
                      (np.ones((5, 3, 3), np.float32), np.zeros((5, 3), np.int32))]),
        output_signature=(tf.TensorSpec((None, None, 3), tf.float32), tf.TensorSpec((None, None), tf.int32)),
    )  # fmt: skip
    x, y = next(make_eval_pipeline(ds, 2).as_numpy_iterator())
    assert x.shape == (2, 5, 6, 3) and y.shape == (2, 5, 6)
    assert (y[0, 4] == 255).all() and (y[1, :, 3:] == 255).all() and (x[1, :, 3:] == 0).all()


def _rare_square_examples(count: int, size=(120, 160), square=12, seed=0):
    """Masks of class 1 with one square of class 7 placed at random; the image's red channel marks the square."""
    rng = np.random.default_rng(seed)
    images = np.full((count, *size, 3), 100.0, np.float32)
    masks = np.ones((count, *size), np.int32)
    for image, mask in zip(images, masks, strict=True):
        top, left = rng.integers(0, size[0] - square), rng.integers(0, size[1] - square)
        mask[top:top + square, left:left + square] = 7
        image[top:top + square, left:left + square, 0] = 250.0
    return images, masks


@pytest.mark.parametrize("probability", [0.0, 0.5, 1.0])
def test_class_aware_crops_show_the_focus_class_as_often_as_asked(probability):
    images, masks = _rare_square_examples(64)
    ds = make_train_pipeline(_dataset(images, masks), 8, crop_size=(32, 32), seed=3, scale_range=None,
                             augment=False, focus_classes=(7,), focus_probability=probability)
    seen = []
    for x, y in ds.as_numpy_iterator():
        seen += list((y == 7).any(axis=(1, 2)))
        np.testing.assert_array_equal(y == 7, x[..., 0] > 200)  # crops of the image and the mask alike
    # A random 32×32 crop of a 120×160 frame holds part of a 12×12 square about (32+11)²/(89·129) = 16% of the time.
    share = np.mean(seen)
    expected = probability + (1 - probability) * 0.16
    assert abs(share - expected) < 0.12, (probability, share)


def test_bad_focus_classes_are_named():
    images, masks = _rare_square_examples(2)
    with pytest.raises(ValueError, match=r"focus_classes must be class labels from 1 to 254, got \[0\]"):
        make_train_pipeline(_dataset(images, masks), 2, crop_size=(32, 32), focus_classes=(0, 7))
    with pytest.raises(ValueError, match="focus_probability must be between 0 and 1, got 1.5"):
        make_train_pipeline(_dataset(images, masks), 2, crop_size=(32, 32), focus_classes=(7,), focus_probability=1.5)
