"""Every bad input a named error, every run safe to repeat: a catalogue of bad data, arguments, files, reruns and
kills. Each case checks the exit status, that no Python trace reaches the user, that the message names the culprit
(file, flag or value) and that nothing already written was lost."""

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import reliability_helpers as rh
from PIL import Image

import kerasseg_cli as cli

REPO = Path(__file__).resolve().parents[1]
TINY = ["--option", "base_filters=4", "--option", "depth=2"]


def train_args(spec, out, *extra, epochs=2):
    return ["train", "--model", "unet", "--data", spec, "--epochs", str(epochs), "--batch-size", "2",
            "--input-size", "32", "32", *TINY, "--out", str(out), "--no-tensorboard", *extra]


def run_cli(capsys, argv):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit:  # commands that report problems (check-data, export) exit 1 themselves
        code = exit.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def log_epochs(run: Path) -> list[str]:
    return [row["epoch"] for row in csv.DictReader((run / "log.csv").open())]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A clean dataset, a finished 2-epoch run on it and a saved model, made once for the module."""
    root = tmp_path_factory.mktemp("reliability")
    spec = rh.write_folder(root / "data")
    run = root / "run"
    assert cli.main(train_args(spec, run, "--seed", "0")) == 0
    return {"root": root, "spec": spec, "run": run, "model": run / "best.keras"}


@pytest.fixture
def data(world, tmp_path):
    """A fresh copy of the clean dataset: (root, spec)."""
    shutil.copytree(world["root"] / "data", tmp_path / "data")
    return tmp_path / "data", f"folder:{tmp_path / 'data' / 'images'}:{tmp_path / 'data' / 'masks'}"


@pytest.fixture
def finished(world, tmp_path):
    """A copy of the finished run (same data spec), and its snapshot."""
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    return run, rh.snapshot(run)


# --- data: (damage, extra train arguments, expected words) --------------------------------------------------------
TRAIN_MASK = "masks/train/0.png"
DATA_CASES = {
    "stray-254-guessed": (lambda d: rh.set_pixel(d / TRAIN_MASK, 254), [], ["0.png", "254 (1 pixels", "--classes"]),
    "stray-254-declared": (lambda d: rh.set_pixel(d / TRAIN_MASK, 254), ["--classes", "3"], ["0.png", "254 (1 pixels"]),
    "bad-val-mask": (lambda d: rh.set_pixel(d / "masks/val/1.png", 7), ["--classes", "3"], ["val/1.png", "7 (1 pixels"]),
    "bad-val-mask-guessed": (lambda d: rh.set_pixel(d / "masks/val/1.png", 7), [], ["val/1.png", "7 (1 pixels"]),
    "16-bit-mask": (lambda d: rh.sixteen_bit(d / TRAIN_MASK), [], ["0.png", "1000", "--classes"]),
    "jpeg-damaged-masks": (lambda d: [rh.jpeg_damaged(p) for p in (d / "masks/train").iterdir()], [], ["--classes"]),
    "truncated-image": (lambda d: rh.truncate(d / "images/train/2.png"), [], ["images/train/2.png", "truncated"]),
    "truncated-mask": (lambda d: rh.truncate(d / "masks/train/3.png"), [], ["masks/train/3.png"]),
    "rgb-mask": (lambda d: rh.rgb_mask(d / "masks/train/4.png"), ["--classes", "3"], ["4.png", "RGB"]),
    "size-mismatch": (lambda d: rh.wrong_size(d / "masks/train/5.png"), [], ["masks/train/5.png", "(32, 31)"]),
    "image-without-mask": (lambda d: (d / "masks/train/1.png").unlink(), [], ["images/train/1.png", "no mask"]),
    "empty-val-split": (lambda d: [p.unlink() for p in (d / "images/val").iterdir()]
                        + [p.unlink() for p in (d / "masks/val").iterdir()], ["--classes", "3"], ["val", "empty"]),
    "missing-folder": (lambda d: shutil.rmtree(d / "masks"), [], ["masks", "does not exist"]),
    # issue #25: vague messages made precise
    "jpeg-mask": (lambda d: rh.jpeg_mask(d / "masks/train/1.png"), ["--classes", "3"],
                  ["masks/train/1.jpg", "lossy", ".png"]),
    "dangling-image-link": (lambda d: rh.dangling(d / "images/train/1.png"), ["--classes", "3"],
                            ["images/train/1.png", "symbolic link", "does not exist"]),
    "dangling-mask-link": (lambda d: rh.dangling(d / "masks/train/2.png"), ["--classes", "3"],
                           ["masks/train/2.png", "symbolic link"]),
    "two-images-one-stem": (lambda d: rh.same_stem(d / "images/train/1.png"), ["--classes", "3"],
                            ["1.png", "1.jpg", "same name"]),
    "exif-turned-image": (lambda d: rh.exif_tagged(d / "images/train/0.png", d / TRAIN_MASK), ["--classes", "3"],
                          ["images/train/0.jpg", "orientation 6", "(32, 48)"]),
    "val-without-labels": (lambda d: rh.all_ignored(d / "masks/val"), ["--classes", "3"],
                           ["[val]", "no labelled pixel", "--val-split none"]),
}


@pytest.mark.parametrize("case", DATA_CASES, ids=list(DATA_CASES))
def test_bad_data_stops_train_before_the_first_step(case, data, tmp_path, capsys):
    root, spec = data
    damage, extra, words = DATA_CASES[case]
    damage(root)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, train_args(spec, out, *extra))
    assert code == 2, err
    for word in words:
        assert word in err, (word, err)
    assert not (out / "log.csv").exists() and not (out / "run.json").exists()  # no half-made run


@pytest.mark.slow
@pytest.mark.parametrize("steps", [[], ["--steps-per-epoch", "2"]], ids=["epochs", "steps-per-epoch"])
def test_without_preflight_a_bad_file_is_still_named_and_fails(steps, data, tmp_path, capsys):
    root, spec = data
    rh.truncate(root / "images/train/2.png")
    code, _, err = run_cli(capsys, train_args(spec, tmp_path / "run", "--no-preflight", *steps))
    assert code == 2 and "images/train/2.png" in err, err


def test_check_data_names_guessed_and_declared_label_problems(data, capsys):
    root, spec = data
    rh.sixteen_bit(root / TRAIN_MASK)
    code, _, err = run_cli(capsys, ["check-data", spec])
    assert code == 2 and "0.png" in err and "--classes" in err
    code, out, _ = run_cli(capsys, ["check-data", spec, "--classes", "3"])
    assert code == 1 and "0.png" in out and "1000 (" in out


def test_evaluate_checks_the_data_against_the_models_classes(world, data, capsys):
    root, spec = data
    rh.set_pixel(root / "masks/val/0.png", 5)
    code, _, err = run_cli(capsys, ["evaluate", "--model", world["model"], "--data", spec])
    assert code == 2 and "val/0.png" in err and "5 (1 pixels" in err
    rh.set_pixel(root / "masks/val/0.png", 0)
    rh.truncate(root / "images/val/1.png")
    code, _, err = run_cli(capsys, ["evaluate", "--model", world["model"], "--data", spec, "--no-preflight"])
    assert code == 2 and "images/val/1.png" in err


@pytest.mark.slow
def test_camvid_class_count_is_declared_not_overridden(world, shared_dir, tmp_path, capsys):
    code, _, err = run_cli(capsys, train_args("camvid", tmp_path / "run", "--classes", "5"))
    assert code == 2 and "camvid has 11 classes" in err and "--classes" in err
    code, _, err = run_cli(capsys, ["evaluate", "--model", world["model"], "--data", "camvid"])
    assert code == 2 and "predicts 3 classes" in err and "camvid has 11" in err


# --- arguments: checked before any data is read ----------------------------------------------------------------
ARG_CASES = {
    "option-typo": (["--option", "depthh=2"], ["depthh", "valid options", "depth", "base_filters"]),
    "negative-lr": (["--lr", "-0.1"], ["--lr", "-0.1"]),
    "zero-lr": (["--lr", "0"], ["--lr"]),
    "epochs-0": (["--epochs", "0"], ["--epochs", "got 0"]),
    "epochs-negative": (["--epochs", "-3"], ["--epochs", "-3"]),
    "steps-0": (["--steps-per-epoch", "0"], ["--steps-per-epoch"]),
    "batch-0": (["--batch-size", "0"], ["--batch-size"]),
    "classes-0": (["--classes", "0"], ["classes", "got 0"]),
    "input-size-0": (["--input-size", "0", "32"], ["--input-size"]),
    "scale-range-reversed": (["--scale-range", "2", "1"], ["--scale-range"]),
    "scale-range-huge": (["--scale-range", "0.5", "1000"], ["--scale-range", "<= 4"]),
    "weight-decay-negative": (["--weight-decay", "-1"], ["--weight-decay"]),
    "unknown-model": (["--model", "nosuchnet"], ["nosuchnet"]),
    "class-weight-power-nan": (["--class-weight-power", "nan"], ["--class-weight-power", "nan"]),
    "init-from-missing": (["--init-from", "nowhere.keras"], ["--init-from", "nowhere.keras"]),
    "seed-negative": (["--seed", "-1"], ["--seed", "-1"]),
    "data-dir-with-a-folder-spec": (["--data-dir", "elsewhere"], ["--data-dir", "names its folders itself"]),
}


@pytest.mark.parametrize("case", ARG_CASES, ids=list(ARG_CASES))
def test_bad_train_arguments_are_refused_at_the_door(case, tmp_path, capsys):
    extra, words = ARG_CASES[case]
    # the data does not exist: an argument error must come before anything is read
    code, _, err = run_cli(capsys, train_args(f"folder:{tmp_path}/none:{tmp_path}/none", tmp_path / "run", *extra))
    assert code == 2, err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "run").exists()


def test_batch_larger_than_the_dataset_names_the_flag(data, tmp_path, capsys):
    _, spec = data
    argv = train_args(spec, tmp_path / "run", "--steps-per-epoch", "2")
    argv[argv.index("--batch-size") + 1] = "64"
    code, _, err = run_cli(capsys, argv)
    assert code == 2 and "--batch-size 64" in err


OTHER_ARG_CASES = {
    "models-classes-0": (["models", "--classes", "0", "--only", "unet"], "--classes"),
    "check-data-classes-0": (["check-data", "camvid", "--classes", "0"], "--classes"),
    "evaluate-max-images-0": (["evaluate", "--model", "m.keras", "--data", "camvid", "--max-images", "0"],
                              "--max-images"),
    "evaluate-scale-0": (["evaluate", "--model", "m.keras", "--data", "camvid", "--scales", "0"], "--scales"),
    "predict-alpha": (["predict", "--model", "m.keras", "--images", ".", "--out", "o", "--alpha", "2"], "--alpha"),
    "export-max-images-0": (["export", "m.keras", "--out", "m.tflite", "--max-images", "0"], "--max-images"),
    "benchmark-runs-0": (["benchmark", "m.tflite", "--runs", "0"], "--runs"),
    "predict-out-is-a-file": (["predict", "--model", "m.keras", "--images", ".", "--out", "README.md"], "README.md"),
    # issue #25: ranges, and flags that do not apply to the input are refused, for .keras and .tflite alike
    "evaluate-scale-tiny": (["evaluate", "--model", "m.keras", "--data", "camvid", "--scales", "0.001"], "--scales"),
    "evaluate-scale-nan": (["evaluate", "--model", "m.keras", "--data", "camvid", "--scales", "nan"], "--scales"),
    "predict-scale-huge": (["predict", "--model", "m.keras", "--images", ".", "--out", "o", "--scales", "10"],
                           "--scales"),
    "benchmark-modes-bogus-tflite": (["benchmark", "m.tflite", "--modes", "bogus"], "--modes"),
    "benchmark-modes-bogus-keras": (["benchmark", "m.keras", "--modes", "float32", "bogus"], "--modes"),
    "export-opset-for-tflite": (["export", "m.keras", "--out", "m.tflite", "--opset", "13"], "--opset"),
    "export-calibration-for-float32": (["export", "m.keras", "--out", "m.tflite", "--calibration", "."],
                                       "--calibration"),
    "export-opset-out-of-range": (["export", "m.keras", "--format", "onnx", "--out", "m.onnx", "--opset", "99"],
                                  "--opset"),
    "demo-epochs-0": (["demo", "--epochs", "0"], "--epochs"),
}


@pytest.mark.parametrize("case", OTHER_ARG_CASES, ids=list(OTHER_ARG_CASES))
def test_bad_arguments_of_other_commands(case, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # README.md is a file there
    argv, word = OTHER_ARG_CASES[case]
    code, _, err = run_cli(capsys, argv)
    assert code == 2 and word in err, err


# --- files ----------------------------------------------------------------------------------------------------
def test_damaged_keras_files_are_named_as_damaged(world, data, tmp_path, capsys):
    _, spec = data
    garbage, half = tmp_path / "garbage.keras", tmp_path / "half.keras"
    garbage.write_bytes(b"not a model at all")
    half.write_bytes(world["model"].read_bytes()[: world["model"].stat().st_size // 2])
    for path in (garbage, half):
        code, _, err = run_cli(capsys, ["evaluate", "--model", path, "--data", spec])
        assert code == 2 and str(path) in err and "damaged" in err, err
    code, _, err = run_cli(capsys, train_args(spec, tmp_path / "run", "--init-from", half))
    assert code == 2 and "half.keras" in err and "damaged" in err, err


def test_damaged_tflite_is_named_as_damaged(tmp_path, capsys):
    path = tmp_path / "m.tflite"
    path.write_bytes(b"TFL3 but nothing else")
    code, _, err = run_cli(capsys, ["benchmark", path, "--runs", "1"])
    assert code == 2 and str(path) in err and "damaged" in err, err


@pytest.mark.parametrize(
    "out, word",
    [("{tmp}", "is a folder"), ("{tmp}/no/such/m.tflite", "does not exist"), ("{tmp}/m.onnx", "must end with .tflite")],
    ids=["folder", "missing-folder", "wrong-suffix"],
)
def test_export_output_is_checked_before_conversion(out, word, tmp_path, capsys):
    # the model does not exist: the output must be refused first
    code, _, err = run_cli(capsys, ["export", tmp_path / "absent.keras", "--out", out.format(tmp=tmp_path)])
    assert code == 2 and word in err, err


def test_predict_names_every_unreadable_image_and_writes_the_rest(world, data, tmp_path, capsys):
    root, _ = data
    images = root / "images" / "val"
    (images / "broken.png").write_bytes(b"\x89PNG broken")
    rh.truncate(images / "1.png")
    code, _, err = run_cli(capsys, ["predict", "--model", world["model"], "--images", images, "--out", tmp_path / "p"])
    assert code == 2 and "broken.png" in err and "1.png" in err and "2 of 3 images" in err, err
    assert sorted(p.name for p in (tmp_path / "p" / "masks").iterdir()) == ["0.png"]


def test_train_out_that_is_a_file_is_refused(data, tmp_path, capsys):
    _, spec = data
    (tmp_path / "run").write_text("not a folder")
    code, _, err = run_cli(capsys, train_args(spec, tmp_path / "run"))
    assert code == 2 and "is a file" in err
    assert (tmp_path / "run").read_text() == "not a folder"


# --- reruns: never a silent discard -----------------------------------------------------------------------------
def test_rerunning_a_finished_run_refuses_and_keeps_it(world, finished, capsys):
    run, before = finished
    for epochs in (2, 1):
        code, _, err = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=epochs))
        assert code == 2 and "already trained 2 epochs" in err and "--restart" in err, err
    code, _, err = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=0))
    assert code == 2 and "--epochs" in err
    assert rh.snapshot(run) == before


@pytest.mark.slow
def test_more_epochs_extend_a_finished_run(world, finished, capsys):
    run, before = finished
    code, out, _ = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=3))
    assert code == 0 and "resuming" in out
    assert log_epochs(run) == ["0", "1", "2"]
    old_rows = (world["run"] / "log.csv").read_text().splitlines()
    assert (run / "log.csv").read_text().splitlines()[:3] == old_rows  # earlier rows kept as they were
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == 3


@pytest.mark.parametrize(
    "change, word",
    [(["--lr", "0.5"], "--lr None, now 0.5"), (["--classes", "3", "--seed", "1"], "seed")],
    ids=["lr", "seed-and-classes"],
)
def test_changed_options_on_resume_are_refused(world, finished, change, word, capsys):
    run, before = finished
    argv = train_args(world["spec"], run, "--seed", "0", epochs=3)
    code, _, err = run_cli(capsys, argv[: argv.index("--seed")] + change)
    assert code == 2 and word in err and "--restart" in err, err
    assert rh.snapshot(run) == before


@pytest.mark.slow
def test_restart_moves_the_old_run_aside(world, finished, capsys):
    run, before = finished
    code, out, _ = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", "--restart"))
    assert code == 0 and "moved" in out
    moved = [p for p in run.parent.iterdir() if p.name.startswith("run-replaced-")]
    assert len(moved) == 1 and rh.snapshot(moved[0]) == before
    assert log_epochs(run) == ["0", "1"]


@pytest.mark.slow
def test_same_seed_gives_the_same_losses(world, tmp_path, capsys):
    code, _, _ = run_cli(capsys, train_args(world["spec"], tmp_path / "again", "--seed", "0"))
    assert code == 0
    assert (tmp_path / "again" / "log.csv").read_text() == (world["run"] / "log.csv").read_text()


def test_a_folder_of_another_run_is_not_mixed_in(world, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("epoch,loss\n0,1.0\n")
    code, _, err = run_cli(capsys, train_args(world["spec"], run))
    assert code == 2 and "cannot be resumed" in err and "--restart" in err
    assert (run / "log.csv").read_text() == "epoch,loss\n0,1.0\n"


@pytest.mark.parametrize("damage", ["weights", "metadata", "run.json"])
def test_a_damaged_run_folder_names_backup_and_restart(world, finished, damage, capsys):
    run, _ = finished
    target = {
        "weights": next((run / "backup").glob("epoch*.weights.h5")),
        "metadata": run / "backup" / "training_metadata.json",
        "run.json": run / "run.json",
    }[damage]
    rh.truncate(target, 0.3)
    before = rh.snapshot(run)
    code, _, err = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=3))
    assert code == 2 and "--restart" in err and (run.name in err), err
    assert ("backup" in err) if damage != "run.json" else ("run.json" in err)
    assert rh.snapshot(run) == before


# --- kills: SIGKILL at chosen instants, then the same command again ---------------------------------------------
def _killed(point, argv, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "reliability_helpers.py"), point, *map(str, argv)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["mid-epoch", "after-log-row", "backup-write", "best-write"])
def test_a_run_killed_at_any_instant_resumes_cleanly(point, world, tmp_path, capsys):
    run = tmp_path / "run"
    argv = train_args(world["spec"], run, "--seed", "0")
    _killed(point, argv, tmp_path)
    backed_up = json.loads((run / "backup" / "training_metadata.json").read_text())
    assert backed_up["epoch"] == 1 and (run / "backup" / backed_up["weights"]).is_file()
    if point == "best-write":
        assert json.loads((run / "best.json").read_text())["epoch"] == 1
        assert run_cli(capsys, ["evaluate", "--model", run / "best.keras", "--data", world["spec"]])[0] == 0
    code, out, _ = run_cli(capsys, argv)
    assert code == 0 and "resuming" in out
    assert log_epochs(run) == ["0", "1"]  # each epoch logged once
    assert not list(run.glob(".*partial*"))  # a killed writer's partial files go when the next one starts
    assert (run / "last.keras").is_file() and (run / "best.keras").is_file()


@pytest.mark.slow
def test_a_kill_between_the_best_model_and_its_record_is_completed_on_resume(world, tmp_path, capsys):
    run = tmp_path / "run"
    argv = train_args(world["spec"], run, "--seed", "0")
    _killed("best-renames", argv, tmp_path)  # in epoch 0, before its backup: the rerun repeats epoch 0
    assert (run / "best.keras").is_file() and not (run / "best.json").exists()
    assert run_cli(capsys, argv)[0] == 0
    assert log_epochs(run) == ["0", "1"]
    record = json.loads((run / "best.json").read_text())
    assert record["sha256"] == hashlib.sha256((run / "best.keras").read_bytes()).hexdigest()
    assert not list(run.glob(".best*"))


def test_a_pending_best_record_without_its_model_is_dropped(finished, tmp_path):
    from kerasseg.training.run_folder import BestModelCheckpoint

    run, _ = finished
    checkpoint = BestModelCheckpoint(run / "best.keras", resume=True)
    before = (run / "best.json").read_text()
    checkpoint.pending_path.write_text(json.dumps({"epoch": 9, "val_miou": 1.0, "sha256": "0" * 64}))
    checkpoint.on_train_begin()
    assert not checkpoint.pending_path.exists() and (run / "best.json").read_text() == before
    assert checkpoint.best == json.loads(before)


@pytest.mark.slow
def test_a_predict_killed_mid_write_leaves_no_partial_file_after_the_next_run(world, tmp_path, capsys):
    argv = ["predict", "--model", world["model"], "--images", world["root"] / "data/images/val", "--out",
            tmp_path / "p"]
    _killed("predict-write", argv, tmp_path)
    assert list((tmp_path / "p").rglob(".*.partial.png"))  # the kill left one
    assert run_cli(capsys, argv)[0] == 0
    assert not list((tmp_path / "p").rglob(".*partial*")) and not (tmp_path / ".p.lock").exists()
    assert sorted(p.name for p in (tmp_path / "p" / "masks").iterdir()) == ["0.png", "1.png"]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["export-before-rename", "export-rename"])
def test_an_export_killed_at_its_rename_leaves_one_pair(point, world, tmp_path):
    """Issue #12: an export and its report are replaced together: the new report waits under a pending name
    until the export it describes (by sha256) is in place."""
    from kerasseg.export import read_report

    out = tmp_path / "m.tflite"
    out.write_bytes(b"previous export")
    previous = {"sha256": rh.hashlib.sha256(b"previous export").hexdigest()}
    (tmp_path / "m.parity.json").write_text(json.dumps(previous))
    _killed(point, ["export", world["model"], "--input-size", "32", "32", "--no-metadata", "--out", out], tmp_path)
    pending = tmp_path / ".m.parity.json.pending"
    assert pending.is_file()  # written before the export's rename
    if point == "export-before-rename":
        assert out.read_bytes() == b"previous export" and read_report(str(out)) == previous
    else:
        assert out.read_bytes() != b"previous export"
        report = read_report(str(out))  # the new pair, completed
        assert report["sha256"] == rh.hashlib.sha256(out.read_bytes()).hexdigest() != previous["sha256"]
        assert json.loads((tmp_path / "m.parity.json").read_text()) == report
    assert not pending.exists()


def test_a_report_of_another_file_is_refused(tmp_path):
    from kerasseg.export import read_report

    out = tmp_path / "m.tflite"
    out.write_bytes(b"this export")
    (tmp_path / "m.parity.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ValueError, match="m.parity.json is stale"):
        read_report(str(out))


def test_log_rows_past_the_backup_and_half_written_lines_are_dropped(tmp_path):
    from kerasseg.training import trim_log

    log = tmp_path / "log.csv"
    log.write_bytes(b"epoch,loss\r\n0,1.0\r\n1,0.9\r\n2,0.")
    trim_log(log, 2)
    assert log.read_bytes() == b"epoch,loss\r\n0,1.0\r\n1,0.9\r\n"
    trim_log(log, 2)  # nothing to drop: the file is left as it is
    assert log.read_bytes() == b"epoch,loss\r\n0,1.0\r\n1,0.9\r\n"


# === issue #25: one writer, no failed file over a good one, outputs outside inputs, numbers and the OS's errors ===
def one_line(err: str) -> str:
    """The error output, checked to be one line (what a user sees of a failure)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def exported(world):
    """A float32 export of the world's model at 32x32 and its report, made once."""
    out = world["root"] / "export" / "m.tflite"
    out.parent.mkdir()
    assert cli.main(["export", str(world["model"]), "--input-size", "32", "32", "--no-metadata", "--out", str(out)]) == 0
    return out


@pytest.fixture
def previous_export(exported, tmp_path):
    """A copy of the good export and its report in tmp_path/exports: (export path, snapshot of the folder)."""
    folder = tmp_path / "exports"
    shutil.copytree(exported.parent, folder)
    return folder / "m.tflite", rh.snapshot(folder)


def export_args(world, out, *extra):
    return ["export", world["model"], "--input-size", "32", "32", "--no-metadata", "--out", out, *extra]


def meta_epoch(run: Path) -> int:
    return json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"]


# --- a run folder (an export) has one writer: two real processes ---------------------------------------------
@pytest.mark.slow
def test_a_second_train_is_refused_at_once_and_a_killed_writers_lock_is_taken_over(world, tmp_path, capsys):
    run, lock = tmp_path / "run", tmp_path / ".run.lock"
    first = rh.cli_process(train_args(world["spec"], run, "--seed", "0", epochs=500), tmp_path)
    rh.wait_for(run / "backup" / "training_metadata.json", first)
    code, _, err = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=500))
    assert code == 2 and str(run) in one_line(err) and f"process {first.pid}" in err and "in use" in err
    first.kill()
    first.wait()
    assert json.loads(lock.read_text())["pid"] == first.pid  # left behind by the killed writer
    done = meta_epoch(run)
    code, out, _ = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=done + 1))
    assert code == 0 and f"lock of process {first.pid}" in out and "resuming" in out
    assert log_epochs(run) == [str(e) for e in range(done + 1)]  # one writer: each epoch once, one header
    assert (run / "log.csv").read_text().count("epoch,") == 1 and not lock.exists()


@pytest.mark.slow
def test_a_second_export_to_the_same_file_is_refused(world, previous_export, capsys):
    from kerasseg.export import read_report

    out, _ = previous_export
    first = rh.helper_process("export-waits", export_args(world, out), out.parent)  # holds the lock until "go"
    rh.wait_for(out.parent / ".m.tflite.lock", first)
    code, _, err = run_cli(capsys, export_args(world, out))
    assert code == 2 and "m.tflite" in one_line(err) and f"process {first.pid}" in err
    (out.parent / "go").touch()
    assert rh.finish(first)[0] == 0
    assert read_report(str(out))["passed"] and not (out.parent / ".m.tflite.lock").exists()


# --- a failed check never replaces a good file -------------------------------------------------------------
def test_an_export_that_fails_its_check_leaves_the_previous_pair(world, previous_export, monkeypatch, capsys):
    from kerasseg.export import parity, read_report

    out, before = previous_export
    monkeypatch.setitem(parity.RELATIVE_TOLERANCE, "float32", -1.0)  # no export can pass
    code, stdout, err = run_cli(capsys, export_args(world, out))
    assert code == 1 and "FAIL" in stdout and "m.tflite was not replaced" in err and "m.failed.tflite" in err
    after = rh.snapshot(out.parent)
    assert {k: after[k] for k in before} == before  # the good export and its report, untouched
    assert sorted(set(after) - set(before)) == ["m.failed.parity.json", "m.failed.tflite"]
    assert read_report(str(out.parent / "m.failed.tflite"))["passed"] is False


def test_a_diverging_run_stops_with_a_named_error_and_no_best_model(world, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, train_args(world["spec"], run, "--lr", "1e9"))
    line = one_line(err)
    # named where it is first seen: a training step, or (where the steps' losses stayed finite, as on TensorFlow
    # 2.20) the epoch's validation
    assert code == 2 and re.search(r"diverged at epoch 1, (step \d+|validation)", line) and "loss nan" in line
    assert "--lr" in line and "--restart" in line
    assert not (run / "best.keras").exists() and not (run / "backup").exists() and log_epochs(run) == []


def test_a_non_finite_epoch_never_becomes_the_best_model(world, finished):
    from kerasseg.evaluation import load_model
    from kerasseg.training.run_folder import BestModelCheckpoint

    run, before = finished
    checkpoint = BestModelCheckpoint(run / "best.keras", resume=True)
    checkpoint.set_model(load_model(world["model"]))
    checkpoint.on_train_begin()
    checkpoint.on_epoch_end(5, {"loss": float("nan"), "val_miou": 0.99})  # a better mIoU from a diverged model
    assert rh.snapshot(run) == before


@pytest.fixture(scope="module")
def nan_model(world):
    from kerasseg.evaluation import load_model

    model = load_model(world["model"])
    for layer in model.layers:
        layer.set_weights([w * np.nan for w in layer.get_weights()])
    path = world["root"] / "nan.keras"
    model.save(path)
    return path


def test_a_nan_model_writes_no_predictions_and_scores_nothing(world, nan_model, data, tmp_path, capsys):
    root, spec = data
    images, out = root / "images" / "val", tmp_path / "p"
    assert run_cli(capsys, ["predict", "--model", world["model"], "--images", images, "--out", out])[0] == 0
    before = rh.snapshot(out / "masks")
    code, _, err = run_cli(capsys, ["predict", "--model", nan_model, "--images", images, "--out", out])
    assert code == 2 and "NaN" in one_line(err)
    assert rh.snapshot(out / "masks") == before and not list(out.rglob(".*partial*"))
    code, _, err = run_cli(capsys, ["evaluate", "--model", nan_model, "--data", spec])
    assert code == 2 and "NaN" in err


# --- outputs never inside inputs ---------------------------------------------------------------------------
OVERLAP_CASES = {
    "train-out-holds-the-data": (lambda d, s, m: train_args(s, d), "holds the image folder"),
    "train-out-is-the-mask-folder": (lambda d, s, m: train_args(s, d / "masks"), "is the mask folder"),
    "train-out-inside-the-images": (lambda d, s, m: train_args(s, d / "images" / "train" / "run"), "is inside"),
    "train-out-inside-the-camvid-folder": (
        lambda d, s, m: train_args("camvid", d / "run", "--data-dir", d), "is inside the camvid folder"),
    "predict-out-is-the-images": (
        lambda d, s, m: ["predict", "--model", m, "--images", d / "images/val", "--out", d / "images/val"],
        "is --images"),
    "predict-out-holds-the-images": (
        lambda d, s, m: ["predict", "--model", m, "--images", d / "images/val", "--out", d / "images"],
        "holds --images"),
    "predict-out-inside-the-images": (
        lambda d, s, m: ["predict", "--model", m, "--images", d / "images/val", "--out", d / "images/val/p"],
        "is inside --images"),
    "export-out-inside-the-checked-images": (
        lambda d, s, m: ["export", m, "--input-size", "32", "32", "--check", d / "images/val",
                         "--out", d / "images/val/m.tflite"], "is inside the image folder"),
    "export-out-inside-the-calibration-dataset": (
        lambda d, s, m: ["export", m, "--input-size", "32", "32", "--quantization", "int8", "--calibration", s,
                         "--out", d / "masks/m.tflite"], "is inside the mask folder"),
}


@pytest.mark.parametrize("case", OVERLAP_CASES, ids=list(OVERLAP_CASES))
def test_an_output_among_the_inputs_is_refused_before_anything_is_written(case, world, data, capsys):
    root, spec = data
    argv, words = OVERLAP_CASES[case]
    before = rh.snapshot(root)
    code, _, err = run_cli(capsys, argv(root, spec, world["model"]))
    assert code == 2 and words in one_line(err) and "--out" in err, err
    assert rh.snapshot(root) == before and not list(root.rglob("*.lock"))


@pytest.mark.parametrize("bad", ["damaged-init-from", "missing-mask"])
def test_restart_checks_everything_before_moving_the_run(bad, world, finished, data, tmp_path, capsys):
    run, before = finished
    root, spec = data
    extra = ["--restart"]
    if bad == "damaged-init-from":
        damaged = tmp_path / "half.keras"
        damaged.write_bytes(world["model"].read_bytes()[:5000])
        extra += ["--init-from", damaged]
        spec = world["spec"]
    else:
        (root / "masks" / "val" / "1.png").unlink()
    code, _, err = run_cli(capsys, train_args(spec, run, "--seed", "0", *extra))
    assert code == 2 and ("half.keras" if bad == "damaged-init-from" else "val/1.png") in err, err
    assert rh.snapshot(run) == before and not list(tmp_path.glob("run-replaced-*"))


@pytest.mark.slow
def test_restart_may_start_from_the_best_model_of_the_run_it_moves(world, finished, capsys):
    run, before = finished
    code, out, _ = run_cli(capsys, train_args(world["spec"], run, "--restart", "--init-from", run / "best.keras"))
    assert code == 0 and "moved" in out
    moved = next(run.parent.glob("run-replaced-*"))
    assert rh.snapshot(moved) == before and log_epochs(run) == ["0", "1"]


# --- numbers are checked --------------------------------------------------------------------------------------
def test_16_bit_images_are_scaled_not_clipped_to_white(world, data, tmp_path, capsys):
    from kerasseg.data.masks import read_image

    root, _ = data
    gray = np.array(Image.open(root / "images/val/0.png").convert("L"))
    for name, pixels in (("eight", gray), ("sixteen", gray.astype(np.uint16) * 257)):
        (tmp_path / name).mkdir()
        Image.fromarray(pixels).save(tmp_path / name / "0.png")
    assert (tmp_path / "sixteen/0.png").read_bytes()[24] == 16  # the PNG's bit depth (Pillow < 10.1 says mode I)
    assert np.array_equal(read_image(tmp_path / "sixteen/0.png"), read_image(tmp_path / "eight/0.png"))
    for name in ("eight", "sixteen"):
        argv = ["predict", "--model", world["model"], "--images", tmp_path / name, "--out", tmp_path / f"p-{name}"]
        assert run_cli(capsys, argv)[0] == 0
    masks = [(tmp_path / f"p-{name}/masks/0.png").read_bytes() for name in ("eight", "sixteen")]
    assert masks[0] == masks[1]


def test_an_exif_turned_photo_is_read_as_it_is_shown(data, capsys):
    from kerasseg.data.masks import LabelMapping, read_pair

    root, spec = data
    jpeg = rh.exif_tagged(root / "images/train/0.png", root / TRAIN_MASK, stored_turned=True)
    assert Image.open(jpeg).size == (32, 48)  # stored turned: width 32, height 48
    code, out, _ = run_cli(capsys, ["check-data", spec, "--classes", "3"])
    assert code == 0 and "0 problem(s)" in out
    image, mask = read_pair(jpeg, root / TRAIN_MASK, LabelMapping(3))
    assert image.shape == (32, 48, 3) and mask.shape == (32, 48)
    assert np.abs(image.argmax(-1) - mask).mean() < 0.05  # the colours sit on their labels: turned the right way


@pytest.mark.parametrize("loss", ["ce", "dice", "lovasz", "miou"])
def test_losses_and_the_metric_refuse_labels_outside_the_classes_alike(loss):
    from kerasseg.losses import get_loss
    from kerasseg.metrics import MeanIoU

    labels = np.zeros((2, 64, 64), np.int32)
    labels[1, :2, :3] = 50
    logits = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    call = MeanIoU(3).update_state if loss == "miou" else get_loss(loss)
    with pytest.raises(ValueError) as refused:
        call(labels, logits)
    assert str(refused.value) == (
        "mask label 50 is outside 0..2 and is not the ignore label 255, in 6 pixels: check the class count of the data"
    )


@pytest.mark.slow
def test_a_bad_label_inside_fit_gives_the_same_short_message(tmp_path):
    import tensorflow as tf

    from kerasseg.training import train

    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = np.zeros((4, 32, 32), np.int32)
    labels[2, 0, 0] = 50
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    with pytest.raises(ValueError) as refused:
        train("unet", ds, None, epochs=1, num_classes=3, out_dir=tmp_path / "run", model_options={"depth": 2,
              "base_filters": 4}, weights=None, tensorboard=False, verbose=0)
    assert str(refused.value).startswith("mask label 50 is outside 0..2 and is not the ignore label 255, in 1 pixels")
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize("images", ["in-0-1", "nan"])
def test_calibration_images_outside_the_pixel_range_are_refused(images, world, tmp_path):
    from kerasseg.evaluation import load_model
    from kerasseg.export import to_tflite

    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    pixels = pixels / 255 if images == "in-0-1" else np.full_like(pixels, np.nan)
    out = tmp_path / "m.tflite"
    with pytest.raises(ValueError, match="representative_data") as refused:
        to_tflite(load_model(world["model"]), str(out), "int8", pixels, input_size=(32, 32))
    assert ("[0, 1]" if images == "in-0-1" else "NaN") in str(refused.value)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_too_small_sliding_windows_are_refused_with_the_minimum(world, tmp_path, capsys):
    frame = tmp_path / "frame"
    frame.mkdir()
    Image.fromarray(np.zeros((360, 480, 3), np.uint8)).save(frame / "0.png")
    start = time.monotonic()
    for crop, words in ((1, "at least 4x4"), (4, "at least --crop-size 20 20")):
        argv = ["predict", "--model", world["model"], "--images", frame, "--out", tmp_path / "p",
                "--crop-size", crop, crop]
        code, _, err = run_cli(capsys, argv)
        assert code == 2 and "--crop-size" in one_line(err) and words in err, err
    assert time.monotonic() - start < 60 and not list((tmp_path / "p").glob("masks/*"))


def test_flags_that_do_not_apply_to_a_tflite_file_are_refused(exported, capsys):
    for extra, words in ((["--calibration", "."], "--calibration"), (["--input-size", "64", "64"], "takes 32x32")):
        code, _, err = run_cli(capsys, ["benchmark", exported, "--runs", "1", *extra])
        assert code == 2 and words in one_line(err), err
    code, _, err = run_cli(capsys, ["export", exported, "--out", exported.parent / "again.tflite"])
    assert code == 2 and "is an export" in one_line(err)


def test_option_of_the_wrong_type_and_too_small_crops_are_named_before_training(world, tmp_path, capsys):
    for given, wrong, words in (("depth=2", "depth=abc", "'depth': 'abc'"), ("32", "2", "at least 4 4")):
        argv = [wrong if a == given else a for a in train_args(world["spec"], tmp_path / "run")]
        code, _, err = run_cli(capsys, argv)
        assert code == 2 and words in one_line(err), err
        assert not (tmp_path / "run").exists()


def test_models_with_an_unknown_name_prints_no_table(capsys):
    code, out, err = run_cli(capsys, ["models", "--only", "unet", "nosuchnet"])
    assert code == 2 and "nosuchnet" in one_line(err) and out == ""


# --- messages say what is wrong ------------------------------------------------------------------------------
def test_a_custom_layer_missing_at_load_is_named(tmp_path, data, monkeypatch, capsys):
    import keras

    @keras.saving.register_keras_serializable(package="reliability")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2

    inputs = keras.Input((None, None, 3))
    keras.Model(inputs, keras.layers.Conv2D(3, 1)(Twice()(inputs))).save(tmp_path / "custom.keras")
    monkeypatch.delitem(keras.saving.get_custom_objects(), "reliability>Twice")
    code, _, err = run_cli(capsys, ["evaluate", "--model", tmp_path / "custom.keras", "--data", data[1]])
    assert code == 2 and "'reliability>Twice'" in one_line(err) and "register_keras_serializable" in err


@pytest.mark.slow
def test_a_file_for_a_folder_and_a_folder_for_a_file_are_named(world, data, tmp_path, capsys):
    root, _ = data
    code, _, err = run_cli(capsys, ["predict", "--model", world["model"], "--images", root / "images/val/0.png",
                                    "--out", tmp_path / "p"])
    assert code == 2 and "0.png is a file; give the folder of images" in one_line(err)
    code, _, err = run_cli(capsys, ["predict", "--model", world["run"], "--images", root / "images/val",
                                    "--out", tmp_path / "p"])
    assert code == 2 and "is a folder; give the .keras file" in one_line(err)
    assert not (tmp_path / "p").exists()


def test_predict_refuses_two_images_of_one_name(world, data, tmp_path, capsys):
    root, _ = data
    rh.same_stem(root / "images/val/0.png")
    code, _, err = run_cli(capsys, ["predict", "--model", world["model"], "--images", root / "images/val",
                                    "--out", tmp_path / "p"])
    assert code == 2 and "0.jpg and 0.png" in one_line(err) and not (tmp_path / "p").exists()


def test_check_data_names_jpeg_masks_as_such(data, capsys):
    root, spec = data
    rh.jpeg_mask(root / "masks/train/3.png")
    code, out, _ = run_cli(capsys, ["check-data", spec, "--classes", "3"])
    assert code == 1 and "masks/train/3.jpg" in out and "lossy" in out


@pytest.mark.slow
def test_a_run_whose_validation_failed_at_the_end_is_finished_by_a_rerun(data, tmp_path, capsys):
    root, spec = data
    masks = {p: p.read_bytes() for p in (root / "masks/val").iterdir()}
    rh.all_ignored(root / "masks/val")
    argv = train_args(spec, tmp_path / "run", "--classes", "3", "--no-preflight")
    code, _, err = run_cli(capsys, argv)
    assert code == 2 and "no labelled pixels" in err
    for path, content in masks.items():  # the user labels the validation masks
        path.write_bytes(content)
    code, out, _ = run_cli(capsys, argv)
    assert code == 0 and "best val mIoU" in out and log_epochs(tmp_path / "run") == ["0", "1"]
    code, _, err = run_cli(capsys, argv)  # now finished: a rerun is refused as before
    assert code == 2 and "already trained 2 epochs" in err


# --- the operating system's errors, in one line --------------------------------------------------------------
def os_error_argv(command, world, data_spec, out):
    return {
        "train": train_args(data_spec, out),
        "predict": ["predict", "--model", world["model"], "--images", world["root"] / "data/images/val", "--out", out],
        "export": export_args(world, out.with_suffix(".tflite")),
    }[command]


@pytest.mark.parametrize("command", ["train", "predict", "export"])
def test_an_output_under_a_regular_file_is_one_line(command, world, tmp_path, capsys):
    (tmp_path / "file").write_text("a file")
    code, _, err = run_cli(capsys, os_error_argv(command, world, world["spec"], tmp_path / "file" / "out"))
    assert code == 2 and f"{tmp_path / 'file'} is a file, not a folder" in one_line(err)
    assert (tmp_path / "file").read_text() == "a file"


@pytest.mark.parametrize("command", ["train", "predict", "export"])
def test_a_read_only_file_system_is_one_line(command, world, tmp_path, capsys):
    with rh.tmpfs(tmp_path / "ro", "1m", read_only=True) as folder:
        code, _, err = run_cli(capsys, os_error_argv(command, world, world["spec"], folder / "out"))
        assert code == 2 and "Read-only file system (EROFS)" in one_line(err) and str(folder) in err
        assert not list(folder.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "predict", "export"])
def test_a_folder_without_write_permission_is_one_line(command, world, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    argv = os_error_argv(command, world, world["spec"], locked / "out")
    code, _, err = rh.finish(rh.cli_process(argv, tmp_path, permission_override=False))
    assert code == 2 and "Permission denied (EACCES)" in one_line(err) and str(locked) in err
    assert not list(locked.iterdir())


@pytest.mark.slow
def test_an_unreadable_image_folder_is_one_line(world, data, tmp_path):
    root, _ = data
    (root / "images/val").chmod(0o000)
    argv = ["predict", "--model", world["model"], "--images", root / "images/val", "--out", tmp_path / "p"]
    code, _, err = rh.finish(rh.cli_process(argv, tmp_path, permission_override=False))
    (root / "images/val").chmod(0o755)
    line = one_line(err)
    assert code == 2 and f"{root / 'images/val'}: Permission denied (EACCES); check its permissions" in line


@pytest.mark.slow
def test_a_full_disk_during_training_is_one_line_and_the_run_resumes(world, tmp_path, capsys):
    with rh.tmpfs(tmp_path / "disk", "1m") as disk:
        run = disk / "run"
        shutil.copytree(world["run"], run)
        before = rh.snapshot(run)
        code, _, err = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=3))
        line = one_line(err)
        assert code == 2 and str(run) in line and "No space left on device" in line and "ENOSPC" in line
        assert rh.snapshot(run) == before and not list(disk.glob(".*.lock"))  # nothing lost, nothing partial
        rh.resize_tmpfs(disk, "8m")
        code, out, _ = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=3))
        assert code == 0 and "resuming" in out and log_epochs(run) == ["0", "1", "2"]


@pytest.mark.parametrize("command", ["predict", "export"])
def test_a_full_disk_keeps_the_previous_outputs(command, world, previous_export, tmp_path, capsys):
    with rh.tmpfs(tmp_path / "disk", "2m") as disk:
        out = disk / "out"
        if command == "export":
            shutil.copytree(previous_export[0].parent, out)
            argv, leave = export_args(world, out / "m.tflite"), 16384  # room for the lock, not for the export
        else:
            argv, leave = os_error_argv("predict", world, world["spec"], out), 4096  # the lock, not the legend
            assert run_cli(capsys, argv)[0] == 0
        before = rh.snapshot(out)
        filler = rh.fill(disk, leave)
        code, _, err = run_cli(capsys, argv)
        assert code == 2 and "No space left on device (ENOSPC)" in one_line(err) and str(out) in err
        assert rh.snapshot(out) == before
        filler.unlink()
        assert run_cli(capsys, argv)[0] == 0


@pytest.mark.slow
def test_ctrl_c_during_training_is_one_line_and_the_run_resumes(world, tmp_path, capsys):
    run = tmp_path / "run"
    process = rh.cli_process(train_args(world["spec"], run, "--seed", "0", epochs=500), tmp_path)
    rh.wait_for(run / "backup" / "training_metadata.json", process)
    rh.interrupt(process)
    code, _, err = rh.finish(process)
    assert code == 130 and "interrupted (Ctrl-C)" in one_line(err) and "resume" in err
    assert not [p for p in run.rglob("*") if "partial" in p.name or "pending" in p.name]
    assert not (tmp_path / ".run.lock").exists()
    done = meta_epoch(run)
    code, out, _ = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", epochs=done + 1))
    assert code == 0 and "resuming" in out and log_epochs(run) == [str(e) for e in range(done + 1)]


@pytest.mark.slow
@pytest.mark.parametrize("stop, code, words", [("SIGINT", 130, "(Ctrl-C)"), ("SIGTERM", 143, "(SIGTERM)")])
def test_ctrl_c_or_kill_during_export_leaves_the_previous_pair(stop, code, words, world, previous_export):
    out, before = previous_export
    process = rh.helper_process("export-waits-in-check", export_args(world, out), out.parent)
    rh.wait_for(out.parent / "waiting", process)  # converted to its partial file, being checked ("go" never comes)
    (out.parent / "waiting").unlink()
    assert (out.parent / ".m.partial.tflite").is_file()
    process.send_signal(getattr(signal, stop))
    status, _, err = rh.finish(process)
    assert status == code and f"interrupted {words}" in one_line(err) and "m.tflite and its report" in err
    assert rh.snapshot(out.parent) == before and not [p for p in out.parent.iterdir() if p.name.startswith(".")]
