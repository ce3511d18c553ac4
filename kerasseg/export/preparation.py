"""A model made ready for export once: its inference graph, input size, calibration images and labels.

The exporters and the parity report take a ``keras.Model`` or a :class:`PreparedModel`, which they trust as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

import keras
import numpy as np

from kerasseg.evaluation.inference import resize
from kerasseg.models.contract import inference_model

RepresentativeData = Iterable[np.ndarray] | Callable[[], Iterable[np.ndarray]] | np.ndarray


@dataclasses.dataclass(frozen=True)
class PreparedModel:
    """``reference``: the inference model (one ``logits`` output), what an export is checked against;
    ``model``: what is converted (``reference``, or it without its final upsampling); ``size``: (H, W), an entry
    None where an ONNX export keeps it dynamic; ``calibration``: int8 images (N, H, W, 3) float32 at ``size``, or
    None; ``labels``: one name per class."""

    reference: keras.Model
    model: keras.Model
    size: tuple[int | None, int | None]
    calibration: np.ndarray | None
    labels: list[str]

    def with_data(self, calibration: RepresentativeData | None = None, labels: Sequence[str] | None = None):
        """With calibration images (resized to its size) and labels (one per class), where given."""
        return dataclasses.replace(
            self,
            calibration=calibration_images(calibration, self.size) if calibration is not None else self.calibration,
            labels=label_list(labels, len(self.labels)) if labels is not None else self.labels,
        )


def prepare(model: keras.Model | PreparedModel, input_size: tuple[int, int] | None = None,
            calibration: RepresentativeData | None = None, *, labels: Sequence[str] | None = None,
            full_resolution: bool = True, fixed_size: bool = True) -> PreparedModel:
    """``model`` ready for export (a :class:`PreparedModel` as it is). ``input_size`` (H, W): default the model's
    own, dynamic for an any-size model only with ``fixed_size=False`` (ONNX); ``full_resolution=False``: convert
    :func:`native_resolution_model`; ``calibration``: real images in [0, 255]; ``labels``: default ``class_0`` …."""
    if isinstance(model, PreparedModel):
        return model
    reference = inference_model(model)
    size = export_input_size(reference, input_size, fixed_size)
    exported = reference if full_resolution else native_resolution_model(reference)
    classes = int(reference.output_shape[-1])
    prepared = PreparedModel(reference, exported, size, None, [f"class_{i}" for i in range(classes)])
    return prepared.with_data(calibration, labels)


def export_input_size(model: keras.Model, input_size=None, fixed_size: bool = True) -> tuple:
    """The (height, width) an export of ``model`` takes: ``input_size``, or the model's own."""
    h, w = model.input_shape[1:3]
    if input_size is not None:
        if len(tuple(input_size)) != 2:
            raise ValueError(f"input_size must be (height, width), got {tuple(input_size)}")
        h_in, w_in = (int(v) for v in input_size)
        if (h is not None and h != h_in) or (w is not None and w != w_in):
            raise ValueError(f"input_size {(h_in, w_in)} does not match the model's fixed input {(h, w)}")
        return h_in, w_in
    if fixed_size and (h is None or w is None):
        raise ValueError("the model accepts any size: pass input_size=(height, width) to fix it for mobile")
    return h, w


def native_resolution_model(model: keras.Model) -> keras.Model:
    """``model`` without its final upsampling: logits at the resolution the classifier computes them.

    MediaPipe's ImageSegmenter, the desktop runner and the demos resize the output to the image themselves, so
    on a phone the in-model upsampling of (H, W, classes) logits is work done twice; in int8 it is also a
    full-resolution requantized resize and dequantize. Needs the contract's ``logits_resize`` layer and a
    fixed-size model (an any-size model crops its padding after that resize).
    """
    names = {layer.name for layer in model.layers}
    if "logits_resize" not in names:
        raise ValueError(f"{model.name} has no 'logits_resize' layer (kerasseg's model contract): export it at "
                         "full resolution")
    if "logits_crop" in names:
        raise ValueError(f"{model.name} pads any input size and crops after upsampling: build it with a fixed "
                         "input_shape to export native-resolution logits")
    logits = model.get_layer("logits_resize").input[0]
    return keras.Model(model.inputs, logits, name=model.name)


def label_list(labels: Sequence[str], classes: int) -> list[str]:
    if len(labels) != classes:
        raise ValueError(f"{len(labels)} labels for a model with {classes} classes")
    return list(labels)


def calibration_images(data: RepresentativeData, size: tuple[int, int]) -> np.ndarray:
    """Real images (each (H, W, 3) or (N, H, W, 3), an array, an iterable or a callable giving one) resized to
    ``size``: (N, H, W, 3) float32."""
    if None in size:
        raise ValueError("int8 calibration needs a fixed input size")
    images = []
    for item in data() if callable(data) else data:
        item = np.asarray(item, dtype="float32")
        if not (item.ndim == 4 or (item.ndim == 3 and item.shape[-1] == 3)):
            raise ValueError(f"representative images must be (H, W, 3) or (N, H, W, 3), got {item.shape}")
        for image in item if item.ndim == 4 else [item]:
            images.append(resize(image, size))
    if not images:
        raise ValueError("representative_data is empty: int8 calibration needs real images")
    images = np.stack(images)
    check_pixel_range(images, "representative_data")
    return images


def check_pixel_range(images: np.ndarray, what: str) -> None:
    """Refuses images that are not pixels in [0, 255], the models' input range: NaN or infinite values, values
    outside it (normalised images), or values all within [0, 2] (images scaled to [0, 1]): calibrated on them, an
    int8 export would quantize a range the model never sees."""
    if not np.isfinite(images).all():
        raise ValueError(f"{what}: {int((~np.isfinite(images)).sum())} values are NaN or infinite; give real images")
    low, high = float(images.min()), float(images.max())
    if low < -0.5 or high > 255.5:
        raise ValueError(f"{what}: pixel values lie in [{low:.3g}, {high:.3g}]; the model takes RGB pixels in "
                         "[0, 255] (undo any normalisation)")
    if high <= 2.0:
        raise ValueError(f"{what}: pixel values lie in [{low:.3g}, {high:.3g}], as if scaled to [0, 1]; the model "
                         "takes RGB pixels in [0, 255] (multiply by 255)")
