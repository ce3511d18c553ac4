"""benchmarks/mobile.py's lite model is the one benchmarks/lite trained: same builder options, same weights."""

import json

import numpy as np
import pytest
from scripts import REPO, load_script

LITE_DIR = REPO / "benchmarks" / "lite"


@pytest.mark.slow
def test_lite_checkpoint_is_the_benchmarks_lite_model():
    from kerasseg.evaluation import load_model

    bench = load_script("benchmarks/mobile.py")
    trained = json.loads((LITE_DIR / "run.json").read_text())["config"]["options"]
    assert {k: trained[k] for k in bench.MODELS[bench.LITE]} == bench.MODELS[bench.LITE]
    checkpoint = str(LITE_DIR / "camvid-lite.keras")
    model = bench.build(bench.LITE, checkpoint=checkpoint)
    saved = load_model(checkpoint, compile=False)
    assert model.count_params() == saved.count_params()
    image = np.random.default_rng(0).uniform(0, 255, (1, *bench.LITE_SIZE, 3)).astype("float32")
    np.testing.assert_allclose(model(image).numpy(), saved(image).numpy(), atol=1e-5)
