"""README's opening picture: a CamVid frame, its ground truth and the zoo's camvid-mobile prediction, with the legend.

    python docs/readme_figure.py [--data-dir ../shared/data/camvid] [--index 12] [--out docs/camvid-mobile.png]

The frame is from CamVid's val split (the test split is not in this repository's data); README says which frame
and which split, and what the model saw in training.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "camvid"))
    parser.add_argument("--index", type=int, default=12, help="position of the frame in the val split")
    parser.add_argument("--out", default=str(REPO / "docs" / "camvid-mobile.png"))
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from kerasseg import zoo
    from kerasseg.data import load_dataset
    from kerasseg.evaluation import comparison_figure

    val, info = load_dataset("camvid", "val", args.data_dir)
    image, mask = next(iter(val.skip(args.index).take(1).as_numpy_iterator()))
    prediction = zoo.load("camvid-mobile").predict(image[None], verbose=0)[0].argmax(-1)
    figure = comparison_figure([image], {"ground truth": [mask], "camvid-mobile": [prediction]},
                               info.class_names, info.palette, size=4.0)
    figure.savefig(args.out, dpi=90, bbox_inches="tight")
    print(f"wrote {args.out} (val frame {args.index})")


if __name__ == "__main__":
    main()
