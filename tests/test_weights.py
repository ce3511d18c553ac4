"""ImageNet weights: the published hash is checked for a cached file (every family that reads VGG16 included), the
error says where the file goes, and weights are copied by layer name in one way."""

import keras
import numpy as np
import pytest

from kerasseg.backbones import (
    _weights,
    build_backbone,
    copy_weights_by_name,
    imagenet_weight_files,
    layer_weights,
)
from kerasseg.models import get_model

FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5"


@pytest.mark.slow
def test_a_truncated_cached_file_is_not_loaded(shared_dir, tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / FILE).write_bytes((shared_dir / "weights" / FILE).read_bytes()[:100_000])
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:  # no network here: the re-download fails
        build_backbone("mobilenetv2", keras.Input((None, None, 3)), weights="imagenet", alpha=0.5)
    assert str(tmp_path / "models" / FILE) in str(error.value)
    assert "kerasseg weights" in str(error.value)


def test_the_shared_files_match_their_published_hashes(shared_dir, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(shared_dir))
    rows = {row["file"]: row for row in imagenet_weight_files()}
    sums = dict(line.split()[::-1] for line in (shared_dir / "weights" / "SHA256SUMS").read_text().splitlines())
    for file in (FILE, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"):
        assert rows[file]["hash"] == sums[file]
    # $KERAS_HOME/models is where the files are looked for: ../shared/weights is not that folder
    assert rows[FILE]["status"] == "missing"


VGG16_TOP = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
VGG16_NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.mark.parametrize(
    "name, options, file",
    [
        ("fcn32s", {}, VGG16_TOP),
        ("dilated_frontend", {}, VGG16_TOP),
        ("deeplabv1_largefov", {}, VGG16_TOP),
        ("segnet", {}, VGG16_NOTOP),
        ("deeplabv2", {"backbone": "vgg16", "fc_units": 8, "multi_scale": False}, VGG16_NOTOP),
    ],
)
@pytest.mark.slow
def test_every_vgg16_family_checks_the_published_hash(name, options, file, tmp_path, monkeypatch):
    # A cached file that is not Keras' is refused and fetched again (here from nowhere), never loaded: unchecked,
    # Keras would read it and fail with a ValueError.
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / file).write_bytes(b"not the file keras.applications publishes")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(_weights, "KERAS_APPLICATIONS_URL", (tmp_path / "offline").as_uri() + "/")
    with pytest.raises(FileNotFoundError, match="could not be downloaded") as error:
        get_model(name, classes=3, input_shape=(32, 32, 3), weights="imagenet", **options)
    assert str(tmp_path / "models" / file) in str(error.value)
    assert file in {row["file"] for row in imagenet_weight_files(verify=False)}  # `kerasseg weights` names it


def _net(classes=3, name="net"):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inputs, keras.layers.Conv2D(classes, 1, name="classifier")(x), name=name)


@pytest.mark.slow
def test_copy_weights_by_name_sets_the_named_layers_and_names_what_does_not_fit():
    source, target = _net(), _net()
    values = layer_weights(source)
    assert set(values) == {"conv", "bn", "classifier"}
    copy_weights_by_name(target, {"conv": values["conv"]}, "test")
    np.testing.assert_array_equal(target.get_layer("conv").kernel.numpy(), source.get_layer("conv").kernel.numpy())
    assert not np.array_equal(target.get_layer("classifier").kernel.numpy(), values["classifier"][0])

    before = target.get_layer("conv").kernel.numpy()
    with pytest.raises(ValueError, match=r"origin.txt: layer 'classifier' expects weights \[\(1, 1, 4, 3\), \(3,\)\]"):
        copy_weights_by_name(target, {"conv": layer_weights(_net())["conv"], **layer_weights(_net(5))}, "origin.txt")
    np.testing.assert_array_equal(target.get_layer("conv").kernel.numpy(), before)  # nothing set on an error
    with pytest.raises(ValueError, match="origin.txt: net has no layer 'fc6'"):
        copy_weights_by_name(target, {"fc6": values["conv"]}, "origin.txt")


def test_a_warm_start_fills_every_layer_and_passes_over_the_others():
    source, target = _net(), _net()
    copy_weights_by_name(target, {**layer_weights(source), "aux_classifier": []}, "saved.keras", every_layer=True)
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    partial = {k: v for k, v in layer_weights(source).items() if k != "bn"}
    with pytest.raises(ValueError, match="saved.keras: no weights for layer 'bn'"):
        copy_weights_by_name(_net(), partial, "saved.keras", every_layer=True)
