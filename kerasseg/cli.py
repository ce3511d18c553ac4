"""``kerasseg`` command line: parse arguments, call the library. Each subcommand is one ``_add_*`` function."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_models(sub):
    p = sub.add_parser("models", help="list every registered architecture with its paper and parameter count")
    p.add_argument("--classes", type=int, default=21, help="class count used for the parameter column")
    p.add_argument("--no-params", action="store_true", help="skip building each model to count parameters")

    def run(args):
        from kerasseg.models import get_model, list_models, model_info

        print(f"{'name':<22} {'year':<5} {'params':>12}  {'backbones':<40} paper")
        for name in list_models():
            info = model_info(name)
            params = "-"
            if not args.no_params:
                import keras

                params = f"{get_model(name, classes=args.classes, weights=None).count_params():,}"
                keras.backend.clear_session()
            print(f"{name:<22} {info.year:<5} {params:>12}  {', '.join(info.backbones) or '-':<40} {info.paper}")

    p.set_defaults(func=run)


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
    p.set_defaults(func=_not_ready("train"))


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="mIoU (per class) of a model on a dataset, single/multi-scale, flip, CRF")
    p.set_defaults(func=_not_ready("evaluate"))


def _add_predict(sub):
    p = sub.add_parser("predict", help="write colour-coded masks and overlays for a folder of images")
    p.set_defaults(func=_not_ready("predict"))


def _add_export(sub):
    p = sub.add_parser("export", help="export a model to TFLite (4 modes) or ONNX, with a parity report")
    p.set_defaults(func=_not_ready("export"))


def _add_check_data(sub):
    p = sub.add_parser("check-data", help="scan a dataset and report every problem, with a class histogram")
    p.set_defaults(func=_not_ready("check-data"))


def _add_benchmark(sub):
    p = sub.add_parser("benchmark", help="latency of a model in Keras and LiteRT")
    p.set_defaults(func=_not_ready("benchmark"))


def _not_ready(name):
    def run(args):
        raise SystemExit(f"kerasseg {name}: not available in this build")

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasseg", description="Semantic segmentation for Keras 3: train, evaluate, export to TFLite/ONNX."
    )
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
    ):
        add(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"kerasseg {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
