"""``check_dataset`` and ``kerasseg check-data``: every problem at once, and a class histogram that adds up."""

import numpy as np
import pytest
from data_helpers import random_image, write_image

from kerasseg.data import check_dataset
from kerasseg_cli import main


def _broken_folder(tmp_path):
    """Five pairs, four of them broken in a different way, plus an orphan image and an orphan mask."""
    rng = np.random.default_rng(0)
    images, masks = tmp_path / "images", tmp_path / "masks"
    good = rng.integers(0, 3, (6, 8))
    write_image(images / "good.png", random_image(rng, 6, 8))
    write_image(masks / "good.png", np.where(good == 2, 255, good))  # labels 0, 1 and the ignore label
    write_image(images / "mismatch.png", random_image(rng, 6, 8))
    write_image(masks / "mismatch.png", np.zeros((6, 9)))
    write_image(images / "labels.png", random_image(rng, 6, 8))
    write_image(masks / "labels.png", np.full((6, 8), 7))
    (images / "unreadable.jpg").write_bytes(b"\xff\xd8 truncated")
    write_image(masks / "unreadable.png", np.zeros((6, 8)))
    write_image(images / "colour.png", random_image(rng, 6, 8))
    write_image(masks / "colour.png", random_image(rng, 6, 8))
    write_image(images / "orphan_image.png", random_image(rng, 6, 8))
    write_image(masks / "orphan_mask.png", np.zeros((6, 8)))
    return f"folder:{images}:{masks}", good


@pytest.mark.slow
def test_every_problem_is_reported_at_once(tmp_path):
    spec, _ = _broken_folder(tmp_path)
    report = check_dataset(spec, classes=2)
    assert not report.ok
    text = "\n".join(report.problems)
    assert len(report.problems) == 6, text
    assert "orphan_image.png has no mask" in text
    assert "orphan_mask.png has no image" in text
    assert "mismatch.png has shape (6, 9)" in text
    assert "labels.png has labels outside [0, 2) and the ignore label 255: 7 (" in text
    assert "cannot read image" in text and "unreadable.jpg" in text
    assert "colour.png is an RGB colour mask" in text


@pytest.mark.slow
def test_histogram_counts_the_good_pairs(tmp_path):
    spec, good = _broken_folder(tmp_path)
    report = check_dataset(spec, classes=2)
    # only good.png passes every check; its labels were drawn in the test
    assert report.histogram.tolist() == [int((good == 0).sum()), int((good == 1).sum())]
    assert report.ignored_pixels == int((good == 2).sum())
    assert report.num_examples == 5


@pytest.mark.slow
def test_clean_folder_is_ok(tmp_path):
    rng = np.random.default_rng(2)
    for name in ("a", "b"):
        write_image(tmp_path / "i" / f"{name}.png", random_image(rng, 4, 4))
        write_image(tmp_path / "m" / f"{name}.png", np.ones((4, 4)))
    report = check_dataset(f"folder:{tmp_path / 'i'}:{tmp_path / 'm'}", classes=2)
    assert report.ok and report.histogram.tolist() == [0, 32]
    assert "0 problem(s)" in str(report)


def test_cli_prints_problems_and_exits_non_zero(tmp_path, capsys):
    spec, _ = _broken_folder(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["check-data", spec, "--classes", "2"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "6 problem(s)" in out and "mismatch.png" in out and "labels.png" in out


def test_cli_unknown_dataset_lists_the_valid_ones(capsys):
    assert main(["check-data", "kitti"]) == 2
    assert "valid datasets: camvid, voc2012, voc2012-aug, pets, isbi2012" in capsys.readouterr().err
