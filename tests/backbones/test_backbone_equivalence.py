"""VGG16, ResNet-50/101 and Xception against keras.applications, with random weights loaded from a file.

Each reference ``keras.applications`` model gets random weights (BN statistics included), is saved with
``save_weights`` to a ``.weights.h5`` file, and the backbone loads that file by path. At output stride 32 the
features must equal the reference's layers; at 16 and 8 every weight must still be there, the sizes shrink
only to H/output_stride, and the dilated features at the strided positions ([::rate]) are the strided ones.
Xception is keras.applications.Xception on the image padded by 3 before and 4 after (its alignment, see
kerasseg/backbones/xception.py), each map without its last row and column. Parameter counts: keras.applications documentation (../shared/reference/published.md).
"""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
from backbone_helpers import assert_features_close, features_of, randomize

from kerasseg.backbones import build_backbone

# Published no-top parameter counts (keras.applications docs, ../shared/reference/published.md).
PUBLISHED_PARAMS = {"vgg16": 14_714_688, "resnet50": 23_587_712, "resnet101": 42_658_176, "xception": 20_861_480}


def _resnet_layers(conv4_blocks):
    def layers(ref):
        names = ("conv1_relu", "conv2_block3_out", "conv3_block4_out", f"conv4_block{conv4_blocks}_out", "conv5_block3_out")
        return {f"stride{2**i}": ref.get_layer(n).output for i, n in enumerate(names, start=1)}

    return layers


def _vgg_layers(ref):
    outputs = {"stride1": ref.get_layer("block1_conv2").output}
    outputs.update({f"stride{2**b}": ref.get_layer(f"block{b}_pool").output for b in range(1, 6)})
    return outputs


def _xception_layers(ref):
    # Keras leaves the residual additions unnamed: a block's output is the next block's input.
    return {
        "stride2": ref.get_layer("block1_conv2_act").output,
        "stride4": ref.get_layer("block3_sepconv1_act").input,
        "stride8": ref.get_layer("block4_sepconv1_act").input,
        "stride16": ref.get_layer("block13_sepconv1_act").input,
        "stride32": ref.get_layer("block14_sepconv2_act").output,
    }


# name → (application, preprocess_input, reference layers, input size, padding (before, after) of the input).
FAMILIES = {
    "vgg16": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input, _vgg_layers, 64, (0, 0)),
    "resnet50": (keras.applications.ResNet50, keras.applications.resnet.preprocess_input, _resnet_layers(6), 64, (0, 0)),
    "resnet101": (
        keras.applications.ResNet101, keras.applications.resnet.preprocess_input, _resnet_layers(23), 64, (0, 0)
    ),
    "xception": (keras.applications.Xception, keras.applications.xception.preprocess_input, _xception_layers, 64, (3, 4)),
}


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    """name → the family's reference, saved weights, input, expected features and backbones (built lazily)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _family(name, tmp_path_factory)
        return cache[name]

    return get


def _family(name, tmp_path_factory):
    application, preprocess, reference_layers, size, pad = FAMILIES[name]
    reference = application(include_top=False, weights=None, input_shape=(size + sum(pad), size + sum(pad), 3))
    randomize(reference, seed=len(name))
    path = tmp_path_factory.mktemp(name) / f"{name}_random.weights.h5"
    reference.save_weights(path)
    image = np.random.default_rng(1).uniform(0, 255, (1, size, size, 3)).astype("float32")
    x = np.pad(preprocess(image.copy()), ((0, 0), pad, pad, (0, 0)))  # zeros after preprocessing
    expected = features_of(keras.Model(reference.input, reference_layers(reference)), x)
    for key, value in expected.items():  # the maps' positions past the image (Xception's last row and column)
        n = size // int(key.removeprefix("stride"))
        expected[key] = value[:, :n, :n]
    built = {}

    def backbone(output_stride):
        if output_stride not in built:
            inputs = keras.Input((None, None, 3))
            features = build_backbone(name, inputs, weights=str(path), output_stride=output_stride)
            built[output_stride] = keras.Model(inputs, features)
        return built[output_stride]

    return SimpleNamespace(name=name, reference=reference, image=image, expected=expected, backbone=backbone, size=size)


# ResNet-101 differs from ResNet-50 only in conv4's block count: its dilation is left to ResNet-50's tests.
DILATED = ["vgg16", "resnet50", "xception"]


@pytest.mark.parametrize(  # ResNet-101 is ResNet-50's code with more blocks: the slow tier's
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "resnet101" else n for n in FAMILIES]
)
@pytest.mark.slow
def test_output_stride_32_equals_keras_applications(families, name):
    family = families(name)
    ours = features_of(family.backbone(32), family.image)
    assert sorted(ours) == sorted(family.expected)
    for key, value in family.expected.items():
        assert_features_close(ours[key], value)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAMILIES))
def test_parameter_count_is_the_published_one(families, name):
    family = families(name)
    assert family.backbone(32).count_params() == PUBLISHED_PARAMS[family.name]


def _reference_twin(reference):
    """Our layer name → the reference layer: by name, Xception's unnamed shortcut layers by the graph."""
    twins = {layer.name: layer for layer in reference.layers if layer.weights}
    first_layers = {2: "block2_sepconv1", 3: "block3_sepconv1_act", 4: "block4_sepconv1_act", 13: "block13_sepconv1_act"}
    for block, first in first_layers.items():
        block_input = reference.get_layer(first).input
        conv = next(la for la in reference.layers if type(la) is keras.layers.Conv2D and la.input is block_input)
        bn = next(la for la in reference.layers if la.weights and la.input is conv.output)
        twins[f"block{block}_residual"], twins[f"block{block}_residual_bn"] = conv, bn
    return twins


@pytest.mark.parametrize(  # in the fast tier VGG16's; tests/backbones/test_alignment.py dilates the others fast
    "name", [n if n == "vgg16" else pytest.param(n, marks=pytest.mark.slow) for n in DILATED]
)
def test_dilated_backbones_keep_every_weight(families, name):
    family = families(name)
    twins = _reference_twin(family.reference) if family.name == "xception" else None
    for output_stride in (16, 8):
        model = family.backbone(output_stride)
        weighted = [layer for layer in model.layers if layer.weights]
        assert len(weighted) == len([la for la in family.reference.layers if la.weights])
        for layer in weighted:
            twin = twins[layer.name] if twins else family.reference.get_layer(layer.name)
            for ours, theirs in zip(layer.get_weights(), twin.get_weights(), strict=True):
                np.testing.assert_array_equal(ours, theirs, err_msg=layer.name)


@pytest.mark.slow
@pytest.mark.parametrize("name", DILATED)
def test_dilated_features_have_size_h_over_output_stride(families, name):
    family = families(name)
    for output_stride in (16, 8):
        ours = features_of(family.backbone(output_stride), family.image)
        for key, value in ours.items():
            nominal = int(key.removeprefix("stride"))
            assert value.shape[1:3] == (family.size // min(nominal, output_stride),) * 2, key
        if family.name != "vgg16":  # VGG's dilated pooling is tested in tests/backbones/test_backbones_api.py
            # ResNet strides its first 1×1 conv (valid padding: the even positions) and Xception its 1×1
            # shortcut and centred 3×3 pool, so the dilated network computes the strided features densely,
            # and they are its positions [::rate]. A wrong dilation past the output stride (block 14 at rate 1
            # instead of 2) changes them by ~1e-2; float32 rounding through dilated convolutions is ~5e-5.
            for key in ("stride8", "stride16", "stride32"):
                step = max(1, int(key.removeprefix("stride")) // output_stride)
                assert_features_close(ours[key][:, ::step, ::step], family.expected[key], atol=2e-4)
