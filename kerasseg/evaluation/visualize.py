"""Colour-coded masks and overlays for a folder of images (``kerasseg predict``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from kerasseg.data.info import colorize, voc_palette
from kerasseg.data.masks import list_images
from kerasseg.evaluation.inference import ModelLike, check_inference_options, predict_probabilities
from kerasseg.files import check_outside, replacing
from kerasseg.locks import OutputLock


def overlay(
    image: np.ndarray, mask: np.ndarray, palette: np.ndarray | None = None, alpha: float = 0.5
) -> np.ndarray:
    """The image blended with its colour-coded mask (VOC colours by default), (H, W, 3) uint8."""
    palette = voc_palette() if palette is None else palette
    blended = (1 - alpha) * np.asarray(image, np.float32) + alpha * colorize(mask, palette).astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def save_png(image: Image.Image, path: Path) -> Path:
    """Writes a PNG under a temporary name, then renames it (no half-written file under the final name)."""
    with replacing(path) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)


def legend_handles(class_names: Sequence[str], palette: np.ndarray | None = None) -> list:
    """One matplotlib colour swatch per class, labelled "i name", for ``figure.legend(handles=...)``.

    The colours are those :func:`overlay` and ``colorize`` paint with the same ``palette`` (VOC colours by default).
    """
    from matplotlib.patches import Patch

    palette = np.asarray(voc_palette(max(len(class_names), 2)) if palette is None else palette, np.float32)
    if len(palette) < len(class_names):
        raise ValueError(f"the palette has {len(palette)} colours for {len(class_names)} classes")
    return [Patch(color=palette[i] / 255.0, label=f"{i} {name}") for i, name in enumerate(class_names)]


def comparison_figure(
    images: Sequence[np.ndarray],
    columns: dict[str, Sequence[np.ndarray]],
    class_names: Sequence[str],
    palette: np.ndarray | None = None,
    alpha: float = 0.6,
    size: float = 3.2,
):
    """A matplotlib figure: one row per image, the image then one overlay per ``columns`` entry, and a legend.

    ``columns`` maps a title to one label mask per image, e.g. ``{"ground truth": masks, "prediction": preds}``;
    the legend below names every class with the colour the overlays use.
    """
    import matplotlib.pyplot as plt

    rows, cols = len(images), 1 + len(columns)
    aspect = images[0].shape[0] / images[0].shape[1]
    figure, axes = plt.subplots(rows, cols, figsize=(size * cols, size * aspect * rows + 0.5), squeeze=False)
    for row, image in enumerate(images):
        panels = [("image", np.clip(image, 0, 255).astype(np.uint8))]
        panels += [(title, overlay(image, masks[row], palette, alpha)) for title, masks in columns.items()]
        for ax, (title, picture) in zip(axes[row], panels, strict=True):
            ax.imshow(picture)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(title)
    figure.legend(
        handles=legend_handles(class_names, palette), loc="lower center", ncol=min(len(class_names), 6),
        frameon=False, fontsize="small",
    )
    figure.tight_layout(rect=(0, 0.06 + 0.03 * (len(class_names) > 6), 1, 1))
    return figure


def write_legend(path, class_names: Sequence[str], palette: np.ndarray | None = None) -> Path:
    """A PNG legend of the masks' colours: one swatch and name per class (matplotlib), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    handles = legend_handles(class_names, palette)
    figure = plt.figure(figsize=(3, 0.3 * len(handles) + 0.4))
    figure.legend(handles=handles, loc="center", frameon=False)
    try:
        with replacing(path) as tmp:
            figure.savefig(tmp, dpi=100)
    finally:
        plt.close(figure)
    return Path(path)


def predict_folder(
    model: ModelLike,
    images_dir,
    out_dir,
    *,
    palette: np.ndarray | None = None,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crop_size: tuple[int, int] | None = None,
    alpha: float = 0.5,
    legend: Sequence[str] | None = None,
) -> list[Path]:
    """Predicts every image of ``images_dir``; writes ``masks/<name>.png`` and ``overlays/<name>.png`` (and
    ``legend.png`` naming the ``legend`` classes' colours, first, when given).

    Masks are palette PNGs whose pixel values are the class indices (the VOC ``SegmentationClass`` format), so
    they are both viewable and readable as labels. Returns the written masks and overlays. ``out_dir`` must lie
    outside ``images_dir`` (and not hold it), and has one writer at a time; every option is checked before the
    first image is read. An unreadable image is skipped and the others are written; then a ``ValueError`` names
    every unreadable one. Each file is replaced whole or not at all.
    """
    check_outside(out_dir, "out_dir", {"the image folder images_dir": images_dir})
    check_inference_options(model, scales, crop_size)
    paths = list_images(images_dir)
    with OutputLock(out_dir, "out_dir"):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        for partial in Path(out_dir).glob("**/.*.partial.png"):  # left by a killed run; no one else writes here
            partial.unlink()
        if legend is not None:
            write_legend(Path(out_dir) / "legend.png", legend, palette)
        return _predict_each(model, paths, Path(out_dir), palette, scales, flip, crop_size, alpha)


def _predict_each(model, paths, out: Path, palette, scales, flip, crop_size, alpha) -> list[Path]:
    from kerasseg.data.masks import read_image

    palette = np.asarray(voc_palette() if palette is None else palette, np.uint8)
    png_palette = voc_palette(256)  # a PNG palette has 256 entries: the classes' colours, then VOC's
    png_palette[: len(palette)] = palette
    (out / "masks").mkdir(parents=True, exist_ok=True)
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    written, failed = [], []
    for path in paths:
        try:
            rgb = read_image(path)
        except (ValueError, FileNotFoundError) as err:
            failed.append(str(err))
            continue
        probs = predict_probabilities(
            model, rgb[None].astype(np.float32), scales=scales, flip=flip, crop_size=crop_size
        )
        if probs.shape[-1] > 256:
            raise ValueError(
                f"palette PNG masks hold at most 256 classes, the model predicts {probs.shape[-1]}"
            )
        labels = probs[0].argmax(axis=-1).astype(np.uint8)
        mask = Image.fromarray(labels)
        mask.putpalette(png_palette.ravel().tolist())  # an "L" image with a palette becomes a "P" image
        written.append(save_png(mask, out / "masks" / f"{path.stem}.png"))
        written.append(
            save_png(
                Image.fromarray(overlay(rgb, labels, palette, alpha)), out / "overlays" / f"{path.stem}.png"
            )
        )
    if failed:
        raise ValueError(
            f"{len(failed)} of {len(paths)} images could not be read (the other {len(paths) - len(failed)} were "
            f"written to {out}):\n" + "\n".join(f"  - {problem}" for problem in failed)
        )
    return written
