"""Models whose layers used to emit ops the LiteRT GPU delegate does not run export without them (issue #5).

Each model exercises one rewritten layer, exported float32 at a fixed 64×64:

- ``deeplabv1_largefov``: caffe preprocessing (VGG16), formerly REVERSE_V2 + SUB, now one CONV_2D.
- ``deeplabv3`` (MobileNetV2): ASPP's image pooling, formerly MEAN, now AVERAGE_POOL_2D.
- ``pspnet`` (MobileNetV2): 8×8 features, which bins 3 and 6 do not divide; formerly MEAN per bin (19 in all),
  now STRIDED_SLICE + AVERAGE_POOL_2D + CONCATENATION.

What ``gpu_unsupported`` still reports for these three: nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from model_checks import build_small, structured_images

from kerasseg.export import run_tflite, tflite_ops, to_tflite
from kerasseg.export.gpu import gpu_unsupported

CASES = {
    "deeplabv1_largefov": {"CONV_2D", "MAX_POOL_2D"},
    "deeplabv3": {"AVERAGE_POOL_2D", "RESIZE_BILINEAR"},
    "pspnet": {"AVERAGE_POOL_2D", "STRIDED_SLICE", "CONCATENATION"},
}


# In the fast tier, the one layer no other fast test exports: caffe preprocessing is
# tests/layers/test_preprocessing.py's, the pyramid tests/layers/test_pyramid_pooling.py's.
FAST_TIER = {"deeplabv3"}


@pytest.mark.parametrize(
    "name", [n if n in FAST_TIER else pytest.param(n, marks=pytest.mark.slow) for n in sorted(CASES)]
)
@pytest.mark.slow
def test_no_reverse_or_mean_for_the_gpu_delegate(name, tmp_path):
    model = build_small(name, input_shape=(64, 64, 3))
    path = to_tflite(model, str(tmp_path / f"{name}.tflite"), "float32", metadata=False)
    ops = tflite_ops(path)
    assert CASES[name] <= set(ops), ops
    unsupported = gpu_unsupported(path)
    assert not [e for e in unsupported if e["op"] in ("REVERSE_V2", "MEAN")], unsupported
    assert unsupported == [], unsupported
    image = structured_images(1, (64, 64), seed=1)
    expected = model.predict(image, verbose=0)
    expected = expected["logits"] if isinstance(expected, dict) else expected
    np.testing.assert_allclose(run_tflite(path, image), expected, atol=1e-4 * max(1.0, np.abs(expected).max()))


def test_tensorflows_gpu_analyzer_cannot_replace_the_documented_list(tmp_path):
    """Why gpu.py keeps the delegate's documented op list: TF 2.21's analyzer passes an op the delegate lacks."""
    import contextlib
    import io

    import tensorflow as tf

    cumsum = tf.function(lambda x: tf.math.cumsum(x, axis=1), input_signature=[tf.TensorSpec((1, 8, 8, 3))])
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([cumsum.get_concrete_function()]).convert()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tf.lite.experimental.Analyzer.analyze(model_content=flatbuffer, gpu_compatibility=True)
    assert "looks compatible with GPU delegate" in printed.getvalue()
    path = tmp_path / "cumsum.tflite"
    path.write_bytes(flatbuffer)
    assert [entry["op"] for entry in gpu_unsupported(str(path))] == ["CUMSUM"]
