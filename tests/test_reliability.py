"""Every bad input a named error, every run safe to repeat: a catalogue of bad data, arguments, files, reruns and
kills. Each case checks the exit status, that no Python trace reaches the user, that the message names the culprit
(file, flag or value) and that nothing already written was lost."""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import reliability_helpers as rh

from kerasseg import cli

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
    "weight-decay-negative": (["--weight-decay", "-1"], ["--weight-decay"]),
    "unknown-model": (["--model", "nosuchnet"], ["nosuchnet"]),
    "class-weight-power-nan": (["--class-weight-power", "nan"], ["--class-weight-power", "nan"]),
    "init-from-missing": (["--init-from", "nowhere.keras"], ["--init-from", "nowhere.keras"]),
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
    [(["--lr", "0.5"], "learning_rate"), (["--classes", "3", "--seed", "1"], "seed")],
    ids=["lr", "seed-and-classes"],
)
def test_changed_options_on_resume_are_refused(world, finished, change, word, capsys):
    run, before = finished
    argv = train_args(world["spec"], run, "--seed", "0", epochs=3)
    code, _, err = run_cli(capsys, argv[: argv.index("--seed")] + change)
    assert code == 2 and word in err and "--restart" in err, err
    assert rh.snapshot(run) == before


def test_restart_moves_the_old_run_aside(world, finished, capsys):
    run, before = finished
    code, out, _ = run_cli(capsys, train_args(world["spec"], run, "--seed", "0", "--restart"))
    assert code == 0 and "moved" in out
    moved = [p for p in run.parent.iterdir() if p.name.startswith("run-replaced-")]
    assert len(moved) == 1 and rh.snapshot(moved[0]) == before
    assert log_epochs(run) == ["0", "1"]


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
    assert not list(run.glob(".*partial*")) or point == "best-write"
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
    from kerasseg.runs import BestModelCheckpoint

    run, _ = finished
    checkpoint = BestModelCheckpoint(run / "best.keras", resume=True)
    before = (run / "best.json").read_text()
    checkpoint.pending_path.write_text(json.dumps({"epoch": 9, "val_miou": 1.0, "sha256": "0" * 64}))
    checkpoint.on_train_begin()
    assert not checkpoint.pending_path.exists() and (run / "best.json").read_text() == before
    assert checkpoint.best == json.loads(before)


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
