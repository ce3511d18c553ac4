"""ImageNet weights: the published hash is checked for a cached file, and the error says where the file goes."""

import keras
import pytest

from kerasseg.backbones import build_backbone, imagenet_weight_files

FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5"


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
