"""SegNet (Badrinarayanan et al., TPAMI 2017): parameter count, index-based decoder, encoder weights."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.layers.pooling import MaxPoolingWithIndices, MaxUnpooling


def _convs(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_parameter_count_matches_table_6_and_the_structure_is_the_paper_s():
    model = kerasseg.SegNet(11, weights=None)  # CamVid: 11 classes
    # SegNet TPAMI 2017, Table 6: 29.5M parameters. The count includes the batch-norm statistics, as a stored
    # model does (117 MB on disk in the same table ≈ 29.5M float32 values).
    assert model.count_params() == pytest.approx(29.5e6, rel=0.01)
    convs = _convs(model)
    assert (
        len(convs) == 26
    )  # 13 encoder convolutions (VGG16) + 13 mirrored decoder ones, the last the classifier
    assert [c.filters for c in convs[:13]] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert convs[-1].filters == 11
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 25
    # No learned upsampling: the decoder upsamples only by unpooling.
    assert not [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2DTranspose | keras.layers.UpSampling2D)
    ]
    assert sum(isinstance(layer, MaxPoolingWithIndices) for layer in model.layers) == 5
    assert sum(isinstance(layer, MaxUnpooling) for layer in model.layers) == 5


def test_each_decoder_block_unpools_with_its_encoder_block_s_indices():
    model = kerasseg.SegNet(3, (64, 64, 3), width_multiplier=0.125)
    for block in range(1, 6):
        pool = model.get_layer(f"block{block}_pool")
        unpool = model.get_layer(f"block{block}_unpool")
        assert unpool.input[1] is pool.output[1]
        assert unpool.output.shape[1:3] == pool.input.shape[1:3]

    # Behaviour: a decoder feature before its first convolution is zero except where the encoder had its maxima.
    probe = keras.Model(
        model.input, [model.get_layer("block1_pool").input, model.get_layer("block1_unpool").output]
    )
    image = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    encoded, unpooled = (t.numpy() for t in probe(image))
    windows = encoded.reshape(1, 32, 2, 32, 2, -1).transpose(0, 1, 3, 5, 2, 4).reshape(1, 32, 32, -1, 4)
    is_max = windows == windows.max(-1, keepdims=True)
    first_max = is_max & (np.cumsum(is_max, -1) == 1)
    allowed = first_max.reshape(1, 32, 32, -1, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(unpooled.shape)
    assert np.all(unpooled[~allowed] == 0)
    assert np.count_nonzero(unpooled) > 0


def test_encoder_takes_vgg16_weights_by_layer_name(tmp_path):
    vgg = keras.applications.VGG16(include_top=False, weights=None)
    path = tmp_path / "vgg16_notop.weights.h5"
    vgg.save_weights(path)
    model = kerasseg.SegNet(4, (32, 32, 3), weights=str(path))
    for name in ("block1_conv1", "block3_conv3", "block5_conv3"):
        np.testing.assert_array_equal(
            model.get_layer(name).kernel.numpy(), vgg.get_layer(name).kernel.numpy()
        )


def test_bad_arguments_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        kerasseg.SegNet(3, weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="width_multiplier=1.0"):
        kerasseg.SegNet(3, weights="imagenet", width_multiplier=0.5)
    with pytest.raises(ValueError, match="pad or resize it to 384"):
        kerasseg.SegNet(11, (360, 480, 3))  # CamVid's size: 360 is not a multiple of 32
    with pytest.raises(TypeError, match="segnet: .*'backbone'"):
        kerasseg.SegNet(3, backbone="vgg16")
