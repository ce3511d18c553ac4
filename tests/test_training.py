"""Training: compile defaults against the papers' formulas, aux loss, strategies, mixed precision, a resumable
run killed mid-epoch, and the train / evaluate / predict commands."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_checks import small_options
from PIL import Image

import kerasseg_cli as cli
from kerasseg import training
from kerasseg.evaluation import evaluate
from kerasseg.facts import PAPERS
from kerasseg.losses import SegmentationCrossEntropy
from kerasseg.metrics import MeanIoU
from kerasseg.models import get_model, registry
from kerasseg.models.contract import SegmentationModel

REPO = Path(__file__).resolve().parents[1]
CLASSES = 3


def tiny_net(classes=CLASSES, input_shape=(None, None, 3), aux=False, weights=None):
    """A small fully convolutional net with the contract's outputs: float32 ``logits`` (and ``aux``)."""
    inputs = keras.Input(input_shape, name="image")
    h = keras.layers.Rescaling(1 / 255.0)(inputs)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(h)

    def head(name):
        x = keras.layers.Conv2D(classes, 1, name=f"{name}_classifier")(h)
        return keras.layers.Activation("linear", dtype="float32", name=name)(x)

    if aux:
        return SegmentationModel(inputs, {"logits": head("logits"), "aux": head("aux")}, name="tiny")
    return keras.Model(inputs, head("logits"), name="tiny")


@pytest.fixture
def tiny_registered():
    """Registers ``tiny`` (with an aux option) for the duration of a test, as an architecture file would."""
    facts = {"tiny": {"reference": "test", "year": 2024, "backbones": ()}}
    with mock.patch.dict(registry._REGISTRY), mock.patch.dict(PAPERS, facts):
        registry.register("tiny")(tiny_net)
        yield "tiny"


def colour_data(n=8, size=16, seed=0):
    """Images whose pixel colour gives the class (red 0, green 1, blue 2), about 10% of pixels ignored."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, (n, size, size)).astype(np.int32)
    images = np.eye(3, dtype=np.float32)[labels] * 200 + rng.uniform(0, 55, (n, size, size, 3)).astype(
        np.float32
    )
    labels[rng.random(labels.shape) < 0.1] = 255
    return images, labels


def batched(images, labels, batch_size=2):
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def test_poly_learning_rate_and_sgd_defaults_follow_the_papers():
    model = training.compile_model(tiny_net(), epochs=4, steps_per_epoch=5)
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.SGD) and opt.momentum == pytest.approx(0.9)
    schedule = opt._learning_rate  # the schedule object; opt.learning_rate is its current value
    for step in (0, 7, 19, 20):
        # DeepLab / PSPNet: lr = base_lr * (1 - iter / max_iter) ** 0.9, base_lr 0.01.
        assert float(schedule(step)) == pytest.approx(0.01 * (1 - step / 20) ** 0.9, abs=1e-7)
    constant = training.compile_model(tiny_net(), optimizer="adam", learning_rate=3e-4).optimizer
    assert isinstance(constant, keras.optimizers.Adam)
    assert float(constant.learning_rate) == pytest.approx(3e-4)
    with pytest.raises(ValueError, match="valid optimizers: sgd, adam"):
        training.make_optimizer("rmsprop")


def test_sgd_weight_decay_shrinks_weights_like_the_papers_coupled_l2():
    # Caffe/PyTorch SGD: v = mu v + (g + wd w); w -= lr v. With g = 0 the weights decay geometrically;
    # Keras' decoupled weight decay given wd / (1 - mu) must shrink them by about as much.
    lr, wd, mu, steps = 0.1, 1e-3, 0.9, 300
    w, v = 1.0, 0.0
    for _ in range(steps):
        v = mu * v + wd * w
        w -= lr * v
    opt = training.make_optimizer("sgd", lr, momentum=mu, weight_decay=wd)
    var = keras.Variable(np.ones((1,), np.float32))
    for _ in range(steps):
        opt.apply_gradients([(np.zeros((1,), np.float32), var)])
    shrink_paper, shrink_keras = 1 - w, 1 - float(var.numpy()[0])
    assert shrink_paper > 0.2
    assert shrink_keras == pytest.approx(shrink_paper, rel=0.05)


def _numpy_ce(logits, labels):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    valid = labels != 255
    return -np.take_along_axis(logp, np.where(valid, labels, 0)[..., None], -1)[..., 0][valid].mean()


@pytest.mark.slow
def test_aux_head_loss_is_weighted_0_4_and_fit_runs():
    keras.utils.set_random_seed(0)
    model = training.compile_model(tiny_net(aux=True), weight_decay=None)
    images, labels = colour_data(4)
    out = model(images, training=True)
    expected = _numpy_ce(np.asarray(out["logits"]), labels) + 0.4 * _numpy_ce(np.asarray(out["aux"]), labels)
    assert float(model.compute_loss(images, labels, out)) == pytest.approx(expected, rel=1e-4)
    logs = model.evaluate(images, labels, verbose=0, return_dict=True)  # inference: the logits' loss alone
    assert logs["loss"] == pytest.approx(_numpy_ce(model.predict(images, verbose=0), labels), rel=1e-4)
    history = model.fit(batched(images, labels), validation_data=batched(images, labels), epochs=1, verbose=0)
    assert "val_miou" in history.history


def test_a_plain_model_with_dict_outputs_is_refused_by_name():
    inputs = keras.Input((None, None, 3))
    logits = keras.layers.Conv2D(3, 1, name="logits")(inputs)
    plain = keras.Model(inputs, {"logits": logits, "aux": keras.layers.Conv2D(3, 1, name="aux")(inputs)}, name="two")
    with pytest.raises(ValueError, match=r"model 'two' has the outputs \['aux', 'logits'\].*SegmentationModel"):
        training.compile_model(plain)


@pytest.mark.slow
def test_pspnet_fits_after_compile_model_and_after_a_plain_compile():
    # The tests' small PSPNet (model_checks.SMALL: same architecture, reduced widths) with its aux head.
    keras.utils.set_random_seed(0)
    model = get_model("pspnet", classes=CLASSES, weights=None, **small_options("pspnet"))
    assert isinstance(model(colour_data(1, size=32)[0], training=True), dict)  # with its aux head
    images, labels = colour_data(4, size=32)
    targets = labels
    # Eager steps: tracing a MobileNetV2 training step costs ~15 s of CPU (graph mode is tested on tiny_net).
    training.compile_model(model, epochs=1, steps_per_epoch=2, run_eagerly=True)
    logs = model.fit(images, targets, batch_size=2, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0]) and "miou" in logs
    model.compile(optimizer="adam", loss=SegmentationCrossEntropy(), run_eagerly=True)
    assert np.isfinite(model.fit(images, targets, batch_size=2, epochs=1, verbose=0).history["loss"][0])
    # Test-time inference at several sizes (multi-scale, then another image size) goes through the model's
    # padding and resizing for unknown sizes.
    scores = evaluate(model, [(images[0], labels[0]), (images[1, :24], labels[1, :24])], scales=(0.75, 1.0))
    assert scores.confusion.sum() == (labels[0] != 255).sum() + (labels[1, :24] != 255).sum()


def test_plain_user_compile_with_kerasseg_loss_and_metric_trains():
    keras.utils.set_random_seed(0)
    model = tiny_net()
    model.compile(optimizer="adam", loss=SegmentationCrossEntropy(), metrics=[MeanIoU(CLASSES)])
    images, labels = colour_data(8)
    history = model.fit(images, labels, batch_size=4, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_get_strategy_choices():
    gpus = len(tf.config.list_logical_devices("GPU"))
    auto = training.get_strategy("auto")
    if gpus > 1:
        assert isinstance(auto, tf.distribute.MirroredStrategy) and auto.num_replicas_in_sync == gpus
    else:
        assert auto is tf.distribute.get_strategy()  # the default strategy: nothing to distribute over
    assert isinstance(training.get_strategy("one"), tf.distribute.OneDeviceStrategy)
    mirrored = training.get_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    with mirrored.scope():
        model = training.compile_model(tiny_net())
    images, labels = colour_data(4)
    model.fit(batched(images, labels), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="valid strategies: auto, one, mirrored, tpu"):
        training.get_strategy("gpu")
    if not tf.config.list_physical_devices("TPU"):
        with pytest.raises(ValueError, match="no TPU found"):
            training.get_strategy("tpu")


@pytest.mark.slow
def test_train_by_name_with_mixed_precision_writes_the_run(tiny_registered, tmp_path):
    images, labels = colour_data(8)
    result = training.train(
        tiny_registered,
        batched(images, labels),
        batched(images[:4], labels[:4], 1),
        num_classes=CLASSES,
        class_names=["red", "green", "blue"],
        epochs=2,
        out_dir=tmp_path,
        optimizer="adam",
        mixed_precision=True,
        tensorboard=False,
        verbose=0,
    )
    model = result.model
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    assert model.compute_dtype == "float16"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert set(model.output) == {"logits", "aux"}  # built with its aux head
    assert all(t.dtype == "float32" for t in model.outputs)
    assert (tmp_path / "best.keras").exists() and (tmp_path / "last.keras").exists()
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"] == 2  # kept
    best = json.loads((tmp_path / "best.json").read_text())
    logged = [float(row["val_miou"]) for row in csv.DictReader((tmp_path / "log.csv").open())]
    assert best["epoch"] == int(np.argmax(logged)) + 1
    # The final scores are those of best.keras on the validation data, recomputed by evaluate().
    assert result.scores.miou == pytest.approx(max(logged), abs=1e-6)
    assert "green" in result.summary() and "best val mIoU" in result.summary()
    with pytest.raises(ValueError, match="built in float32"):
        training.train(
            tiny_net(), batched(images, labels), epochs=1, out_dir=tmp_path / "x", mixed_precision=True
        )


RESUMABLE_SCRIPT = """
import os, sys, time
from pathlib import Path
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np, tensorflow as tf
sys.path.insert(0, {tests!r})
from test_training import batched, colour_data, tiny_net
from kerasseg.training import train

out = Path(sys.argv[1])

class Slow(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        with open(out / "epochs_started.txt", "a") as f:
            f.write(f"{{epoch}}\\n")

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.25)
        if self.epoch == 1 and batch == 1:
            (out / "in_epoch_1").touch()

keras.utils.set_random_seed(0)
images, labels = colour_data(16)
result = train(tiny_net(), batched(images, labels), batched(images[:2], labels[:2]), epochs=3,
               out_dir=out, tensorboard=False, verbose=0, callbacks=[Slow()])
print("ITERATIONS", int(result.model.optimizer.iterations.numpy()))
"""


@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_where_it_stopped(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(RESUMABLE_SCRIPT.format(tests=str(REPO / "tests"))))
    out = tmp_path / "run"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env, cwd=REPO)
    deadline = time.time() + 180
    while not (out / "in_epoch_1").exists():
        assert proc.poll() is None, "the training process ended before its second epoch"
        assert time.time() < deadline, "the training process never reached its second epoch"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    metadata = json.loads((out / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1  # one finished epoch backed up, the second one interrupted
    assert [row["epoch"] for row in csv.DictReader((out / "log.csv").open())] == ["0"]

    done = subprocess.run(
        [sys.executable, str(script), str(out)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Started epochs: 0, 1 (killed), then the rerun starts at 1 again, not at 0.
    assert (out / "epochs_started.txt").read_text().split() == ["0", "1", "1", "2"]
    assert [row["epoch"] for row in csv.DictReader((out / "log.csv").open())] == ["0", "1", "2"]
    # The optimizer state came back with the weights: 3 epochs of 8 batches in all, so the poly schedule
    # continued instead of restarting.
    assert "ITERATIONS 24" in done.stdout
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 3


def _write_folder_dataset(root: Path, seed=0):
    for split, n in (("train", 8), ("val", 3)):
        images, labels = colour_data(n, size=32, seed=seed + n)
        labels[labels == 255] = 0
        for folder in ("images", "masks"):
            (root / folder / split).mkdir(parents=True)
        for i, (img, lab) in enumerate(zip(images, labels, strict=True)):
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / "images" / split / f"{i}.png")
            Image.fromarray(lab.astype(np.uint8)).save(root / "masks" / split / f"{i}.png")
    return f"folder:{root / 'images'}:{root / 'masks'}"


@pytest.mark.slow
def test_train_evaluate_predict_commands(tiny_registered, tmp_path, capsys):
    spec = _write_folder_dataset(tmp_path / "data")
    out = tmp_path / "run"
    args = ["train", "--model", "tiny", "--data", spec, "--epochs", "2", "--batch-size", "4"]
    args += ["--input-size", "16", "16", "--optimizer", "adam", "--lr", "0.01", "--out", str(out)]
    assert cli.main(args + ["--no-tensorboard"]) == 0
    printed = capsys.readouterr().out
    assert "best val mIoU" in printed and str(out / "best.keras") in printed
    assert [row["epoch"] for row in csv.DictReader((out / "log.csv").open())] == ["0", "1"]

    assert cli.main(["evaluate", "--model", str(out / "best.keras"), "--data", spec, "--split", "val"]) == 0
    printed = capsys.readouterr().out
    scores = json.loads((out / "best_scores.json").read_text())
    assert f"{100 * scores['miou']:.2f}" in printed  # the same model on the same split: the same mIoU
    assert (
        cli.main(
            ["evaluate", "--model", str(out / "best.keras"), "--data", spec, "--scales", "0.5", "1", "--flip"]
        )
        == 0
    )
    assert "mIoU" in capsys.readouterr().out

    assert (
        cli.main(
            [
                "predict",
                "--model",
                str(out / "best.keras"),
                "--images",
                str(tmp_path / "data" / "images" / "val"),
                "--out",
                str(tmp_path / "pred"),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "pred" / "masks").iterdir()) == ["0.png", "1.png", "2.png"]

    assert cli.main(["evaluate", "--model", str(tmp_path / "missing.keras"), "--data", spec]) == 2
    assert "missing.keras" in capsys.readouterr().err
    assert cli.main(args[:3] + ["--data", "nosuchdata", "--out", str(tmp_path / "bad")]) == 2
    assert "nosuchdata" in capsys.readouterr().err


def test_focus_classes_are_given_by_name_or_label():
    names = ["Sky", "Building", "Pole", "Road"]
    assert training.focus_labels(["Pole", "3", 1], names) == (2, 3, 1)
    with pytest.raises(ValueError, match="focus_classes: no class named 'Fense'; the classes are Sky, Building"):
        training.focus_labels(["Fense"], names)


def test_library_errors_name_parameters_not_flags(tmp_path):
    images, labels = colour_data(4)
    data = batched(images, labels)
    with pytest.raises(ValueError, match=r"^learning_rate must be a positive number, got -0.1$"):
        training.train(tiny_net(), data, learning_rate=-0.1, out_dir=tmp_path / "a")
    with pytest.raises(FileNotFoundError, match=r"^init_from \S*nowhere.keras does not exist$"):
        training.train(tiny_net(), data, init_from=tmp_path / "nowhere.keras", out_dir=tmp_path / "b")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"^out_dir \S*file is a file, not a folder$"):
        training.train(tiny_net(), data, epochs=1, out_dir=tmp_path / "file", verbose=0)
