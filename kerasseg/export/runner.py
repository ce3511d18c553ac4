"""Running a ``.tflite`` segmenter on the desktop with LiteRT, as the parity report and the benchmarks do."""

from __future__ import annotations

import os

import numpy as np


def tflite_interpreter(path: str, num_threads: int = 2):
    """A LiteRT interpreter with tensors allocated; a missing file gets a ``FileNotFoundError``."""
    from ai_edge_litert.interpreter import Interpreter

    if not os.path.isfile(path):
        raise FileNotFoundError(f"TFLite model {path} does not exist")
    try:
        interpreter = Interpreter(model_path=path, num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"TFLite model {path} is damaged: {str(err).splitlines()[0]}") from None
    return interpreter


def tflite_input_size(path: str) -> tuple[int, int]:
    """The (height, width) a ``.tflite`` segmenter takes."""
    shape = tflite_interpreter(path, 1).get_input_details()[0]["shape"]
    return int(shape[1]), int(shape[2])


def run_tflite(path: str, images: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Runs a ``.tflite`` segmenter with LiteRT on images (N, H, W, 3) in [0, 255]; returns float32 logits."""
    interpreter = tflite_interpreter(path, num_threads)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(inp["shape"][1:]):
        raise ValueError(f"{path} takes images (N, {', '.join(map(str, inp['shape'][1:]))}), got {images.shape}")
    results = []
    for image in images:
        x = image[None]
        if inp["dtype"] == np.uint8:
            x = np.clip(np.round(x), 0, 255).astype(np.uint8)
        elif inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        else:
            x = x.astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])[0]
        if out["dtype"] in (np.int8, np.uint8):
            scale, zero = out["quantization"]
            y = (y.astype("float32") - zero) * scale
        results.append(y.astype("float32"))
    return np.stack(results)
