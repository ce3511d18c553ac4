"""Fixtures of the export tests."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import COLOUR_LABELS, colour_segmenter, stripes_image


@pytest.fixture(scope="session")
def colour_exports(tmp_path_factory):
    """The colour segmenter exported float32 and int8, with MediaPipe metadata: ``{mode: path}``."""
    from model_checks import structured_images

    from kerasseg.export import to_tflite_modes

    directory = tmp_path_factory.mktemp("colour")
    calibration = np.concatenate([structured_images(4, (64, 64)), stripes_image(64, 64)[0][None]])
    return to_tflite_modes(
        colour_segmenter(), str(directory), ("float32", "int8"), calibration, labels=COLOUR_LABELS
    )
