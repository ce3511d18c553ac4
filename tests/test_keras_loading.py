"""kerasseg's files load the Keras way: in a fresh process, ``keras.saving.load_model(path, safe_mode=True)`` after
``import kerasseg`` (before or after ``import keras``) reads every kind of ``.keras`` file the library writes and
gives the outputs of the model that wrote it; without ``import kerasseg`` the classes are unknown (the test
would pass for the wrong reason otherwise)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import reliability_helpers as rh
import tensorflow as tf

import kerasseg_cli as cli
from kerasseg.losses import LovaszSoftmaxLoss, SegmentationCrossEntropy
from kerasseg.metrics import MeanIoU
from kerasseg.models import get_model
from kerasseg.training import compile_model

REPO = Path(__file__).resolve().parents[1]
ZOO_MODEL = REPO / "saved_models" / "camvid-mobile" / "model.keras"
ORDERS = {"kerasseg-first": "import kerasseg\nimport keras", "keras-first": "import keras\nimport kerasseg"}

LOADER = """
import json, sys
import numpy as np
{imports}
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
data = np.load(sys.argv[2])
out = model.predict(data["x"], verbose=0)
print(json.dumps({{"type": type(out).__name__, "diff": float(np.abs(out - data["expected"]).max()),
                  "compiled": bool(model.compiled), "class": type(model).__name__}}))
"""


def _pspnet():
    return get_model("pspnet", classes=3, input_shape=(None, None, 3), weights=None, backbone="mobilenetv2",
                     alpha=0.35, filters=16, aux_filters=8)


def _fit_once(model, x, y):
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name → (path, inputs, expected logits, compiled): one file of each kind the library writes."""
    root = tmp_path_factory.mktemp("keras_loading")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, (2, 32, 32)).astype("int32")
    made = {}

    def keep(name, model, compiled, path=None):
        path = path or root / f"{name}.keras"
        if not path.exists():
            model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        made[name] = (path, x, loaded.predict(x, verbose=0), compiled)

    keep("uncompiled-aux", _pspnet(), False)
    model = _pspnet()
    model.compile("adam", loss=SegmentationCrossEntropy(class_weights=[1.0, 2.0, 0.5]), metrics=[MeanIoU(3)])
    keep("compiled-ce-aux", _fit_once(model, x, y), True)
    model = get_model("unet", classes=3, input_shape=(None, None, 3), base_filters=4, depth=2, weights=None)
    compile_model(model, optimizer="adam", loss="lovasz", epochs=1, steps_per_epoch=1)
    assert isinstance(model.loss, LovaszSoftmaxLoss)
    keep("compile-model-lovasz", _fit_once(model, x, y), True)
    auto = _pspnet()
    auto.compile()
    keep("compile-auto", _fit_once(auto, x, y), True)

    spec = rh.write_folder(root / "data")
    run = root / "run"
    assert cli.main(["train", "--model", "unet", "--data", spec, "--epochs", "1", "--batch-size", "2",
                     "--input-size", "32", "32", "--option", "base_filters=4", "--option", "depth=2",
                     "--out", str(run), "--no-tensorboard"]) == 0
    keep("train-best", None, True, run / "best.keras")
    keep("train-last", None, True, run / "last.keras")
    keep("zoo", None, False, ZOO_MODEL)
    tf.keras.backend.clear_session()
    return made


CASES = ["uncompiled-aux", "compiled-ce-aux", "compile-model-lovasz", "compile-auto", "train-best", "train-last",
         "zoo"]


def _load_in_fresh_process(imports: str, path, x, expected, tmp_path) -> subprocess.CompletedProcess:
    data = tmp_path / "data.npz"
    np.savez(data, x=x, expected=expected)
    env = {**os.environ, "PYTHONPATH": str(rh.REPO)}  # this checkout, wherever pip last installed kerasseg from
    return subprocess.run([sys.executable, "-c", LOADER.format(imports=imports), str(path), str(data)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("case", CASES)
def test_keras_load_model_reads_the_file_in_a_fresh_process(files, case, order, tmp_path):
    path, x, expected, compiled = files[case]
    done = _load_in_fresh_process(ORDERS[order], path, x, expected, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"type": "ndarray", "diff": pytest.approx(0.0, abs=1e-5), "compiled": compiled,
                      "class": "SegmentationModel"}


def test_without_import_kerasseg_keras_cannot_locate_the_class(files, tmp_path):
    path, x, expected, _ = files["compiled-ce-aux"]
    done = _load_in_fresh_process("import keras", path, x, expected, tmp_path)
    assert done.returncode != 0 and "SegmentationModel" in done.stderr
