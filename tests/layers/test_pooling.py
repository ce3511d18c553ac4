"""SegNet's pooling indices: the builtin-op layers agree with tf.nn.max_pool_with_argmax, ties included."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseg.export import tflite_ops, to_tflite
from kerasseg.layers.pooling import MaxPoolingWithIndices, MaxUnpooling


def _unpool_with_tf_argmax(x: np.ndarray) -> np.ndarray:
    """Each 2×2 maximum written at the flat position TensorFlow's argmax reports, zeros elsewhere."""
    values, argmax = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=True)
    out = np.zeros(x.size, x.dtype)
    out[argmax.numpy().ravel()] = values.numpy().ravel()
    return out.reshape(x.shape)


def test_unpool_of_pool_puts_each_maximum_where_tf_argmax_says():
    x = np.random.default_rng(0).normal(size=(2, 8, 12, 5)).astype("float32")  # continuous: no ties
    pooled, indices = MaxPoolingWithIndices()(x)
    restored = MaxUnpooling()([pooled, indices]).numpy()
    np.testing.assert_array_equal(restored, _unpool_with_tf_argmax(x))
    np.testing.assert_array_equal(pooled.numpy(), tf.nn.max_pool2d(x, 2, 2, "VALID").numpy())
    # Exactly one non-zero per window and channel (continuous input has no exact zeros).
    assert np.count_nonzero(restored) == pooled.numpy().size


def test_ties_go_to_the_first_maximum_in_row_major_order_like_tf():
    x = np.random.default_rng(1).integers(0, 3, size=(2, 10, 6, 4)).astype("float32")  # many ties
    pooled, indices = MaxPoolingWithIndices()(x)
    np.testing.assert_array_equal(MaxUnpooling()([pooled, indices]).numpy(), _unpool_with_tf_argmax(x))

    window = np.array([[[[7.0], [7.0]], [[7.0], [7.0]]]], "float32")  # all four equal
    _, idx = MaxPoolingWithIndices()(window)
    assert int(idx.numpy().ravel()[0]) == 0  # top-left
    window = np.array([[[[1.0], [2.0]], [[9.0], [9.0]]]], "float32")
    _, idx = MaxPoolingWithIndices()(window)
    assert int(idx.numpy().ravel()[0]) == 2  # bottom-left before bottom-right


def test_indices_are_two_bits_per_window():
    x = np.random.default_rng(2).normal(size=(1, 16, 16, 3)).astype("float32")
    _, indices = MaxPoolingWithIndices()(x)
    assert indices.dtype == "int32" and indices.shape == (1, 8, 8, 3)
    assert set(np.unique(indices.numpy())) <= {0, 1, 2, 3}


def test_odd_size_and_channel_mismatch_are_reported():
    with pytest.raises(ValueError, match="even height"):
        MaxPoolingWithIndices()(keras.Input((7, 8, 3)))
    x = keras.Input((8, 8, 4))
    _, indices = MaxPoolingWithIndices()(x)
    with pytest.raises(ValueError, match="channels 6 to unpool but indices for channels 4"):
        MaxUnpooling()([keras.Input((4, 4, 6)), indices])


def test_converts_to_builtin_tflite_and_matches(tmp_path):
    inputs = keras.Input((16, 16, 3))
    pooled, indices = MaxPoolingWithIndices()(inputs)
    model = keras.Model(inputs, MaxUnpooling()([pooled * 2.0, indices]))
    path = to_tflite(model, str(tmp_path / "unpool.tflite"))
    ops_ = tflite_ops(path)
    assert not [op for op in ops_ if "Flex" in op or op.startswith("CUSTOM")], ops_

    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(3).uniform(0, 255, (1, 16, 16, 3)).astype("float32")
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_array_equal(lite, 2.0 * _unpool_with_tf_argmax(x))
