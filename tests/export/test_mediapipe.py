"""MediaPipe Tasks' ImageSegmenter (Python API, mediapipe==1.1.0) loads kerasseg exports and segments correctly."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import COLOUR_LABELS, import_mediapipe, interior, stripes_image

mp = import_mediapipe()


def segment(path: str, image: np.ndarray, confidence: bool = False):
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=path),
        output_category_mask=True,
        output_confidence_masks=confidence,
    )
    with vision.ImageSegmenter.create_from_options(options) as segmenter:
        result = segmenter.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
        category = result.category_mask.numpy_view().copy()
        masks = [m.numpy_view().copy() for m in result.confidence_masks] if confidence else None
        return category.reshape(category.shape[:2]), masks, list(segmenter.labels)


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_mediapipe_segments_the_stripes(colour_exports, mode):
    image, expected = stripes_image(72, 100)  # not the model's 64×64: MediaPipe resizes both ways
    category, confidences, labels = segment(colour_exports[mode], image, confidence=True)
    assert category.shape == (72, 100)  # masks come back at the image's size
    keep = interior(expected)
    np.testing.assert_array_equal(category[keep], expected[keep])
    assert labels == COLOUR_LABELS
    # The metadata declares a softmax output activation: confidence masks are probabilities.
    total = np.sum([m.reshape(72, 100) for m in confidences], axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-4)


def test_mediapipe_upsamples_native_resolution_logits(tmp_path):
    from export_helpers import colour_segmenter
    from model_checks import structured_images

    from kerasseg.export import to_tflite

    path = to_tflite(colour_segmenter(), str(tmp_path / "native.tflite"), "int8", structured_images(3, (64, 64)),
                     labels=COLOUR_LABELS, full_resolution=False)
    image, expected = stripes_image(72, 100)
    category, _, _ = segment(path, image)
    assert category.shape == (72, 100)
    keep = interior(expected)
    np.testing.assert_array_equal(category[keep], expected[keep])
