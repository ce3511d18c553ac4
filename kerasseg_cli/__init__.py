"""``kerasseg`` command line: parse arguments, call the library. Each subcommand is one ``_add_*`` function.

A package of its own beside ``kerasseg``: importing ``kerasseg`` loads Keras and TensorFlow (it registers its
classes for ``keras.saving.load_model``), so this one imports it only inside the commands that need it;
``--help``, ``models`` and ``weights`` read :mod:`kerasseg.facts` without loading TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def _facts():
    """``kerasseg/facts.py`` (it imports nothing), loaded without importing ``kerasseg`` and with it TensorFlow."""
    import importlib.util

    if "kerasseg.facts" in sys.modules:
        return sys.modules["kerasseg.facts"]
    package = importlib.util.find_spec("kerasseg").submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location("kerasseg_cli.facts", os.path.join(package, "facts.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _add_models(sub):
    p = sub.add_parser("models", help="list every registered architecture with its paper and parameter count")
    p.add_argument("--count", action="store_true",
                   help="build each model (weights=None) and count its parameters (slow: minutes for all)")
    p.add_argument("--classes", type=int, default=21, help="class count for --count (default 21)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="show only these architectures")

    def run(args):
        papers = _facts().PAPERS
        _check_positive(args, "classes")
        unknown = sorted(set(args.only or ()) - set(papers))
        if unknown:
            raise ValueError(f"--only: unknown model {unknown[0]!r}; valid models: {', '.join(sorted(papers))}")
        column = f"params ({args.classes} cl.)" if args.count else "paper params"
        print(f"{'name':<22} {'year':<5} {column:>16}  {'backbones':<40} paper")
        for name in args.only or sorted(papers):
            facts = papers[name]
            params = _counted_params(name, args.classes) if args.count else _paper_params(facts)
            backbones = ", ".join(facts["backbones"])
            print(f"{name:<22} {facts['year']:<5} {params:>16}  {backbones:<40} {facts['reference']}")

    p.set_defaults(func=run)


def _paper_params(facts: dict) -> str:
    figures = [v for k, v in facts.items() if k.startswith("params") and isinstance(v, int | float)]
    return f"{figures[0] / 1e6:.1f}M" if figures else "-"


def _counted_params(name: str, classes: int) -> str:
    import keras

    from kerasseg.models import get_model

    params = f"{get_model(name, classes=classes, weights=None).count_params():,}"
    keras.backend.clear_session()
    return params


def _add_weights(sub):
    p = sub.add_parser("weights", help="list the ImageNet weight files each backbone needs and which are present")
    p.add_argument("--verify", action="store_true",
                   help="check each present file against its published hash (reads every file: seconds)")

    def run(args):
        facts = _facts()
        if args.verify:
            from kerasseg.backbones import imagenet_weight_files

            rows = imagenet_weight_files(verify=True)
        else:
            rows = [{**row, "status": _presence(facts.weights_cache_dir(), row["file"])} for row in facts.imagenet_files()]
        print(f"weights='imagenet' looks in {facts.weights_cache_dir()} ($KERAS_HOME/models, else ~/.keras/models)")
        print(f"{'backbone':<12} {'alpha':<6} {'status':<8} file")
        for row in rows:
            alpha = "" if row["alpha"] is None else str(row["alpha"])
            print(f"{row['backbone']:<12} {alpha:<6} {row['status']:<8} {row['file']}")
        missing = [row for row in rows if row["status"] in ("missing", "corrupt")]
        if missing:
            print("\nOffline: download these on a machine with internet and copy them into the folder above:")
            for row in missing:
                print(f"  {row['url']}")
        if not args.verify:
            print("\n(present: not checked against its hash here; `kerasseg weights --verify` checks, and so does "
                  "every load with weights='imagenet')")

    p.set_defaults(func=run)


def _presence(folder: str, file: str) -> str:
    return "present" if os.path.isfile(os.path.join(folder, file)) else "missing"


def _add_demo(sub):
    p = sub.add_parser("demo", help="train, evaluate and export a small model on built-in synthetic data")
    p.add_argument("--out", default="kerasseg-demo", help="output folder (default: ./kerasseg-demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's tuned value)")

    def run(args):
        from kerasseg.demo import run_demo

        run_demo(out=args.out, seed=args.seed, epochs=args.epochs)

    p.set_defaults(func=run)


def _add_train(sub):
    p = sub.add_parser("train", help="train a registered architecture on a dataset")
    p.add_argument("--model", required=True, help="a registered architecture (see `kerasseg models`)")
    p.add_argument("--data", required=True, help="camvid | voc2012 | pets | isbi2012 | folder:IMAGES:MASKS")
    p.add_argument("--data-dir", default=None, help="the dataset's folder (camvid, isbi2012; default $KERASSEG_DATA/<name>) or tfds data dir")
    p.add_argument("--train-split", default="train",
                   help="training split of --data, e.g. train+val for a final model (default train)")
    p.add_argument("--val-split", default="val", help="validation split of --data ('none' to skip)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--input-size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"), help="crop size")
    p.add_argument("--backbone", default=None, help="the architecture's backbone (default: its paper's)")
    p.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="a builder option, e.g. --option alpha=0.5 --option output_stride=8 (repeatable)",
    )
    p.add_argument("--weights", default=None, help="imagenet | none | PATH (default: the builder's default)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<model>-<data>)")
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    p.add_argument("--lr", type=float, default=None, help="initial learning rate (default: sgd 0.01, adam 1e-3)")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="the papers' L2 coefficient (default 1e-4)")
    p.add_argument("--loss", default="ce", choices=("ce", "dice", "lovasz"))
    p.add_argument("--no-class-weights", action="store_true", help="ignore the dataset's class weights")
    p.add_argument("--class-weight-power", type=float, default=1.0,
                   help="raise the dataset's class weights to this power (0.5: square root; default 1)")
    p.add_argument("--scale-range", type=float, nargs=2, default=(0.5, 2.0), metavar=("LOW", "HIGH"),
                   help="random scale augmentation range (default 0.5 2.0)")
    p.add_argument("--focus-classes", nargs="+", default=[], metavar="CLASS",
                   help="class-aware crops: classes (names or labels, e.g. Pole SignSymbol Fence) that a share of "
                        "the crops is placed around")
    p.add_argument("--focus-probability", type=float, default=0.5,
                   help="share of the crops placed around a --focus-classes pixel (default 0.5)")
    p.add_argument("--init-from", default=None, metavar="PATH.keras",
                   help="warm start: copy the weights of a saved model with the same layers")
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPUs with tensor cores)")
    p.add_argument(
        "--strategy", default="auto", choices=("auto", "one", "mirrored", "tpu", "multiworker"),
        help="tf.distribute strategy; multiworker: MultiWorkerMirroredStrategy from TF_CONFIG (docs/cluster.md)",
    )
    p.add_argument("--no-tensorboard", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classes", type=int, default=None,
                   help="class count (built-in datasets declare theirs; needed for folders with ambiguous masks)")
    p.add_argument("--restart", action="store_true",
                   help="start over: move a previous run in --out aside (default: resume or extend it)")
    p.add_argument("--no-preflight", action="store_true",
                   help="skip checking every file before training (huge datasets)")

    def run(args):
        from kerasseg.training import train

        weights = "default" if args.weights is None else None if args.weights.lower() == "none" else args.weights
        name = args.data.split(":")[0] if args.data.startswith("folder:") else args.data
        train(
            args.model,
            args.data,
            False if args.val_split.lower() == "none" else args.val_split,
            epochs=args.epochs,
            batch_size=args.batch_size,
            input_size=tuple(args.input_size),
            out_dir=args.out or os.path.join("runs", f"{args.model}-{name}"),
            data_dir=args.data_dir,
            backbone=args.backbone,
            model_options=_builder_options(args.option),
            weights=weights,
            optimizer=args.optimizer,
            learning_rate=args.lr,
            weight_decay=args.weight_decay,
            loss=args.loss,
            class_weights=None if args.no_class_weights else "dataset",
            class_weight_power=args.class_weight_power,
            scale_range=tuple(args.scale_range),
            focus_classes=args.focus_classes,
            focus_probability=args.focus_probability,
            init_from=args.init_from,
            steps_per_epoch=args.steps_per_epoch,
            mixed_precision=args.mixed_precision,
            strategy=args.strategy,
            seed=args.seed,
            train_split=args.train_split,
            num_classes=args.classes,
            restart=args.restart,
            preflight=not args.no_preflight,
            tensorboard=not args.no_tensorboard,
        )

    p.set_defaults(func=run)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="mIoU (per class) of a model on a dataset, single/multi-scale, flip, CRF")
    p.add_argument("--model", required=True, help="a saved model, PATH.keras")
    p.add_argument("--data", required=True, help="camvid | voc2012 | pets | isbi2012 | folder:IMAGES:MASKS")
    p.add_argument("--data-dir", default=None, help="the dataset's folder (camvid, isbi2012; default $KERASSEG_DATA/<name>) or tfds data dir")
    p.add_argument("--split", default="val")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0], help="e.g. 0.5 0.75 1 1.25 1.5 1.75")
    p.add_argument("--flip", action="store_true", help="average with the horizontally flipped image")
    p.add_argument("--crop-size", type=int, nargs=2, default=None, metavar=("H", "W"), help="sliding window")
    p.add_argument("--crf", action="store_true", help="dense CRF post-processing (needs kerasseg[crf])")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--no-preflight", action="store_true", help="skip checking every file before evaluating")

    def run(args):
        from kerasseg.data import load_dataset, make_eval_pipeline, preflight
        from kerasseg.data.folders import file_errors
        from kerasseg.evaluation import evaluate, load_model, output_classes, require_densecrf

        if args.crf:
            try:
                require_densecrf()
            except ImportError as err:
                raise SystemExit(f"kerasseg evaluate: error: {err}") from None
        from kerasseg.evaluation.inference import check_inference_options, check_scales

        _check_positive(args, "max_images", "crop_size", "scales")
        check_scales(args.scales)
        model = load_model(args.model)
        check_inference_options(model, args.scales, args.crop_size)
        classes = output_classes(model)
        ds, info = load_dataset(args.data, args.split, args.data_dir, classes=classes)
        if info.num_classes != classes:
            raise ValueError(f"model {args.model} predicts {classes} classes, {args.data} has {info.num_classes}")
        if not args.no_preflight:
            preflight(args.data, [args.split], args.data_dir, classes=classes)
        with file_errors():
            scores = evaluate(
                model,
                make_eval_pipeline(ds, batch_size=1),
                info.num_classes,
                scales=args.scales,
                flip=args.flip,
                crop_size=args.crop_size,
                crf=args.crf,
                class_names=info.class_names,
                max_batches=args.max_images,
                verbose=1,
            )
        print(scores.summary())

    p.set_defaults(func=run)


def _add_predict(sub):
    p = sub.add_parser("predict", help="write colour-coded masks and overlays for a folder of images")
    p.add_argument("--model", required=True, help="a saved model, PATH.keras")
    p.add_argument("--images", required=True, help="folder of images (png, jpg, bmp, tif)")
    p.add_argument("--out", required=True, help="output folder: masks/ (palette PNG labels) and overlays/")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0])
    p.add_argument("--flip", action="store_true")
    p.add_argument("--crop-size", type=int, nargs=2, default=None, metavar=("H", "W"), help="sliding window")
    p.add_argument("--alpha", type=float, default=0.5, help="mask opacity in the overlays")
    p.add_argument("--labels", default=None,
                   help="class names for legend.png, one per line (a zoo entry's labels.txt; default: class i)")

    def run(args):
        from kerasseg.evaluation import load_model, output_classes, predict_folder
        from kerasseg.evaluation.inference import check_scales
        from kerasseg.files import check_outside

        _check_positive(args, "crop_size", "scales")
        check_scales(args.scales)
        if not 0 <= args.alpha <= 1:
            raise ValueError(f"--alpha must be between 0 and 1, got {args.alpha}")
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ValueError(f"--out {args.out} is a file; predict writes a folder (masks/, overlays/)")
        check_outside(args.out, "--out", {"--images": args.images})
        model = load_model(args.model)
        names = _class_names(args.labels, output_classes(model))
        written = predict_folder(
            model,
            args.images,
            args.out,
            scales=args.scales,
            flip=args.flip,
            crop_size=args.crop_size,
            alpha=args.alpha,
            legend=names,
        )
        legend = os.path.join(args.out, "legend.png")
        print(f"wrote {len(written) // 2} masks and overlays to {args.out}, colours in {legend}")

    p.set_defaults(func=run)


def _add_export(sub):
    p = sub.add_parser("export", help="export a model to TFLite (4 modes) or ONNX, with a parity report")
    p.add_argument("model", help="a saved model, PATH.keras")
    p.add_argument("--format", default="tflite", choices=("tflite", "onnx"))
    p.add_argument("--quantization", default="float32", help="float32 | float16 | dynamic | int8 (TFLite)")
    p.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="fixed input size of the export (default: the model's own)")
    p.add_argument("--out", required=True, help="the .tflite / .onnx file; the report goes beside it")
    p.add_argument("--check", default=None, help="data to check on: a folder of images or a dataset spec "
                   "(camvid | isbi2012 | folder:IMAGES:MASKS | ...); default: synthetic shapes")
    p.add_argument("--split", default="val", help="split of --check / --calibration datasets (default: val)")
    p.add_argument("--calibration", default=None, help="int8 representative images (default: the --max-images "
                   "images of --check after the checked ones; never the checked images)")
    p.add_argument("--max-images", type=int, default=16, help="images taken from --check / --calibration")
    p.add_argument("--labels", default=None, help="label file for the metadata, one class name per line")
    p.add_argument("--data-dir", default=None, help="the dataset's folder (camvid, isbi2012; default $KERASSEG_DATA/<name>)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    p.add_argument("--no-metadata", action="store_true", help="TFLite without MediaPipe metadata")
    p.add_argument("--native-resolution", action="store_true",
                   help="TFLite logits at the classifier's resolution; the app (MediaPipe) upsamples them")

    def run(args):
        from kerasseg.export.parity import format_report
        from kerasseg.export.workflow import export_checked

        _check_positive(args, "max_images", "input_size", "opset")
        if args.calibration and args.quantization != "int8":
            raise ValueError(f"--calibration is for --quantization int8, not {args.quantization}")
        report = export_checked(
            args.model,
            args.out,
            args.format,
            args.quantization,
            tuple(args.input_size) if args.input_size else None,
            check=args.check,
            split=args.split,
            calibration=args.calibration,
            labels_file=args.labels,
            limit=args.max_images,
            opset=args.opset,
            metadata=not args.no_metadata,
            data_dir=args.data_dir,
            full_resolution=not args.native_resolution,
            verbose=True,
        )
        print(format_report(report))
        print(f"checked on   {report['data']}; report written to {report['report_path']}")
        if report["calibration"]:
            print(f"calibrated on {report['calibration']}")
        if not report["replaced"]:
            print(f"kerasseg export: the check failed: {args.out} was not replaced; the new export is kept as "
                  f"{report['path']} for a look", file=sys.stderr)
            raise SystemExit(1)

    p.set_defaults(func=run)


def _add_check_data(sub):
    p = sub.add_parser("check-data", help="scan a dataset and report every problem, with a class histogram")
    p.add_argument("spec", help="camvid | voc2012 | voc2012-aug | pets | isbi2012 | folder:IMAGES_DIR:MASKS_DIR")
    p.add_argument("--split", default="train")
    p.add_argument("--data-dir", default=None, help="the dataset's folder (camvid, isbi2012; default $KERASSEG_DATA/<name>) or tfds data dir")
    p.add_argument("--classes", type=int, default=None, help="class count for the label check")

    def run(args):
        from kerasseg.data import check_dataset

        _check_positive(args, "classes")
        report = check_dataset(args.spec, args.split, args.data_dir, classes=args.classes)
        print(report)
        if not report.ok:
            raise SystemExit(1)

    p.set_defaults(func=run)


def _add_benchmark(sub):
    p = sub.add_parser("benchmark", help="latency of a model in Keras and LiteRT")
    p.add_argument("model", help="a saved model (PATH.keras) or an export (PATH.tflite)")
    p.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="input size (default: the model's own)")
    p.add_argument("--modes", nargs="+", default=None,
                   help="TFLite modes to export and time for a .keras model (default: float32 int8)")
    p.add_argument("--calibration", default=None, help="int8 representative images (default: synthetic shapes)")
    p.add_argument("--runs", type=int, default=30, help="timed calls; the median is reported (default 30)")
    p.add_argument("--threads", type=int, default=2, help="LiteRT threads (default 2)")
    p.add_argument("--no-keras", action="store_true", help="skip timing the Keras model")

    def run(args):
        from kerasseg.export.profile import benchmark_table, format_benchmark

        _check_positive(args, "runs", "threads", "input_size")
        rows = benchmark_table(
            args.model,
            tuple(args.input_size) if args.input_size else None,
            modes=args.modes,
            calibration=args.calibration,
            runs=args.runs,
            num_threads=args.threads,
            keras=not args.no_keras,
        )
        print(format_benchmark(rows))

    p.set_defaults(func=run)


def _builder_options(pairs) -> dict:
    """``["alpha=0.5", "aux=false"]`` → ``{"alpha": 0.5, "aux": False}`` (numbers, booleans, tuples "6,12,18")."""
    import ast

    options = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"builder option {pair!r} is not KEY=VALUE")
        value = {"true": "True", "false": "False", "none": "None"}.get(text.lower(), text)
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = text
    return options


def _class_names(labels: str | None, classes: int) -> list[str]:
    """Class names from a label file (one per line), else "class i"; the count must match the model's."""
    if labels is None:
        return [f"class {i}" for i in range(classes)]
    from kerasseg.export import read_label_file

    names = read_label_file(labels)
    if len(names) != classes:
        raise ValueError(f"--labels {labels} names {len(names)} classes, the model predicts {classes}")
    return names


def _check_positive(args, *names) -> None:
    """Counts and sizes given on the command line must be positive; the error names the flag."""
    for name in names:
        value = getattr(args, name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if value is not None and (not values or min(values) <= 0):
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")


def _not_ready(name):
    def run(args):
        raise SystemExit(f"kerasseg {name}: not available in this build")

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasseg", description="Semantic segmentation for Keras 3: train, evaluate, export to TFLite/ONNX."
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow, absl and converter logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        _add_demo,
        _add_train,
        _add_evaluate,
        _add_predict,
        _add_export,
        _add_check_data,
        _add_benchmark,
        _add_models,
        _add_weights,
    ):
        add(sub)
    return parser


def _quiet_native_logging() -> None:
    """The CLI's default (``--verbose`` skips it): TensorFlow's, absl's and the converter's logging down to
    errors, and the native libraries' own stderr lines (oneDNN and CPU-feature notes at import, the calibrator's
    ``fully_quantize: 0, ...``, LiteRT's ``Created ... XNNPACK delegate``) sent to /dev/null. Python keeps the
    real stderr, so kerasseg's errors, warnings and progress bars still show."""
    import logging
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("absl", "tensorflow", "tf2onnx", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="(keras|tensorflow|tf2onnx|google|absl)")
    sys.stderr.flush()
    python_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(python_stderr, "w", buffering=1)


def run(argv=None) -> int:
    """The ``kerasseg`` program: :func:`main`, quiet unless ``--verbose`` (see :func:`_quiet_native_logging`)."""
    if not build_parser().parse_args(argv).verbose:
        _quiet_native_logging()
    return main(argv)


def main(argv=None) -> int:
    """Parses ``argv`` and runs the command; a user error prints ``kerasseg VERB: error: ...`` and returns 2, an
    operating-system error (full disk, read-only folder, ...) one line naming the path and returns 2, Ctrl-C (or
    SIGTERM) one line and returns 130 (143)."""
    args = build_parser().parse_args(argv)
    with _remembered_interrupts() as interrupted:
        try:
            args.func(args)
        except Exception as err:  # noqa: BLE001 - reported in one line below, or raised again
            return _failed(args, err, interrupted)
        except KeyboardInterrupt:
            return _stopped(args, interrupted)
    return 0


def _stopped(args, interrupted: list) -> int:
    number = interrupted[0] if interrupted else signal.SIGINT
    name = "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name
    print(f"kerasseg {args.command}: interrupted ({name}){_interrupted(args)}", file=sys.stderr)
    return 128 + number


# The library's errors name its parameters; the command line's name the flags that set them.
FLAGS = {
    "aux_weight": "--aux-weight", "batch_size": "--batch-size", "calibration": "--calibration", "check": "--check",
    "class_weight_power": "--class-weight-power", "classes": "--classes", "crop_size": "--crop-size",
    "data_dir": "--data-dir", "epochs": "--epochs", "focus_classes": "--focus-classes",
    "focus_probability": "--focus-probability", "format": "--format", "images_dir": "--images",
    "init_from": "--init-from", "input_size": "--input-size", "learning_rate": "--lr", "limit": "--max-images",
    "loss": "--loss", "model_options": "--option", "modes": "--modes", "num_classes": "--classes", "opset": "--opset",
    "optimizer": "--optimizer", "out": "--out", "out_dir": "--out", "preflight": "--preflight",
    "representative_data": "--calibration", "restart": "--restart", "scale_range": "--scale-range",
    "scales": "--scales", "seed": "--seed", "steps_per_epoch": "--steps-per-epoch", "strategy": "--strategy",
    "val": "--val-split", "weight_decay": "--weight-decay",
}
SWITCHED_OFF = {"preflight": "--no-preflight", "val": "--val-split none", "tensorboard": "--no-tensorboard"}


def flag_names(message: str) -> str:
    """``message`` with the parameters of :data:`FLAGS` as flags: ``restart=True`` → ``--restart``,
    ``preflight=False`` → ``--no-preflight``, ``epochs=N`` → ``--epochs N``, ``crop_size=(8, 8)`` →
    ``--crop-size 8 8``, and a bare name → its flag: a name with ``_`` anywhere, a one-word name (a common
    word too, like ``epochs``) only where it starts the message or is followed by "must"."""
    import re

    def value(name: str, text: str) -> str:
        if text == "True":
            return FLAGS[name]
        if text == "False":
            return SWITCHED_OFF.get(name, f"{FLAGS[name]} false")
        return f"{FLAGS[name]} {' '.join(re.findall(r'[^(), ]+', text))}"

    names = "|".join(sorted(FLAGS, key=len, reverse=True))
    message = re.sub(rf"(?<![\w.-])({names})=(\([^)]*\)|[^\s,;:)]+)", lambda m: value(*m.groups()), message)
    joined = "|".join(name for name in FLAGS if "_" in name)
    message = re.sub(rf"(?<![\w.=-])({joined})(?![\w=-])", lambda m: FLAGS[m[1]], message)
    single = "|".join(name for name in FLAGS if "_" not in name)
    message = re.sub(rf"^({single}) ", lambda m: FLAGS[m[1]] + " ", message)
    return re.sub(rf"(?<![\w.-])({single}) must\b", lambda m: FLAGS[m[1]] + " must", message)


def _failed(args, err: Exception, interrupted: list) -> int:
    if interrupted:  # a native library turned the interrupt into an error of its own ("initialization failed")
        return _stopped(args, interrupted)
    # ImportError: an optional dependency is missing; ConnectionError: a download failed (offline)
    if isinstance(err, (ValueError, FileNotFoundError, ImportError, ConnectionError)):
        print(f"kerasseg {args.command}: error: {flag_names(str(err))}", file=sys.stderr)
        return 2
    if isinstance(err, OSError):  # a full disk, a read-only folder, a path through a file: one line, no trace
        from kerasseg.files import describe_os_error

        print(f"kerasseg {args.command}: error: {describe_os_error(err, getattr(args, 'out', None))}", file=sys.stderr)
        return 2
    raise err


@contextlib.contextmanager
def _remembered_interrupts():
    """Ctrl-C raises ``KeyboardInterrupt`` as usual, and so does SIGTERM (``kill``, a scheduler's preemption), so
    that both leave no partial file; the signal is remembered (in the list yielded), so that an interrupt a native
    library reports as an error of its own is still reported as an interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    seen: list[int] = []

    def interrupt(number, frame):
        seen.append(number)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _interrupted(args) -> str:
    """What an interrupted command left, for its one line."""
    if args.command == "train":
        return "; the run keeps its last finished epoch: run the same command again to resume"
    if args.command == "export":
        return f"; {args.out} and its report were left as they were"
    if args.command == "predict":
        return f"; no half-written file was left in {args.out}"
    return ""


if __name__ == "__main__":
    sys.exit(run())
