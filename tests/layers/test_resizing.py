"""ResizeLike: the zoo's files compute what they computed when they were trained."""

from pathlib import Path

import keras
import numpy as np
import pytest

import kerasseg  # noqa: F401  (registers the layers)

REPO = Path(__file__).resolve().parents[2]
# Logits of both files on one image, computed with the code they were trained with (before ResizeLike had
# ``grid``), by tests/fixtures/camvid_mobile_logits.npz's own recipe: uniform noise from seed 14, 32×48.
FIXTURE = REPO / "tests" / "fixtures" / "camvid_mobile_logits.npz"
SAVED = {
    "zoo": REPO / "saved_models" / "camvid-mobile" / "model.keras",
    "round2_best": REPO / "saved_models" / "notes" / "camvid-mobile-round2" / "best.keras",
}


@pytest.mark.parametrize("key", sorted(SAVED))
def test_saved_camvid_mobile_models_compute_what_they_computed(key):
    reference = np.load(FIXTURE)
    image = np.random.default_rng(int(reference["image_seed"])).uniform(0, 255, (1, 32, 48, 3)).astype("float32")
    model = keras.saving.load_model(SAVED[key], safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(model(image))[0], reference[key], rtol=0, atol=1e-4)
