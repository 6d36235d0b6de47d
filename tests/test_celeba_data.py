"""CelebA directory validation: every malformed input gives one clear line naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tlgan_tui.cli import main
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.celeba import CELEBA_ATTRIBUTES
from tlgan_tui.engine.training.celeba_data import (
    ATTR_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    CelebaImages,
    read_celeba,
)
from tlgan_tui.engine.training.synthetic import write_synthetic_celeba


@pytest.fixture
def celeba(tmp_path: Path) -> Path:
    root = tmp_path / "celeba"
    write_synthetic_celeba(root, n=40, width=40, seed=3)
    return root


def _edit_line(path: Path, number: int, new: str | None) -> None:
    lines = path.read_text().splitlines()
    if new is None:
        del lines[number - 1]
    else:
        lines[number - 1] = new
    path.write_text("\n".join(lines) + "\n")


def _error(root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    code = main(["train-extractor", "--celeba", str(root), "-o", str(tmp_path / "x.safetensors"),
                 "--image-size", "32", "--epochs", "1", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("tlgan: error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "x.safetensors").exists()
    return err


def test_a_valid_synthetic_directory_reads_with_the_official_split(celeba: Path) -> None:
    index = read_celeba(celeba)
    assert len(index.files) == 40 and index.labels.shape == (40, 40)
    assert set(np.unique(index.labels)) <= {0, 1}
    assert [len(index.split(s)) for s in ("train", "val", "test")] == [26, 4, 10]
    # Labels are 1 where the file says 1, columns in CelebA order.
    row = (celeba / ATTR_FILE).read_text().splitlines()[2].split()
    assert index.files[0] == row[0]
    assert index.labels[0].tolist() == [int(v == "1") for v in row[1:]]


def test_columns_in_another_order_are_mapped_by_name(celeba: Path) -> None:
    expected = read_celeba(celeba).labels
    lines = (celeba / ATTR_FILE).read_text().splitlines()
    order = list(range(40))[::-1]
    lines[1] = " ".join(CELEBA_ATTRIBUTES[i] for i in order)
    for k in range(2, len(lines)):
        fields = lines[k].split()
        lines[k] = " ".join([fields[0], *(fields[1 + i] for i in order)])
    (celeba / ATTR_FILE).write_text("\n".join(lines) + "\n")
    assert (read_celeba(celeba).labels == expected).all()


def test_trailing_spaces_and_blank_lines_are_accepted(celeba: Path) -> None:
    text = (celeba / ATTR_FILE).read_text()
    (celeba / ATTR_FILE).write_text(text.replace("\n", " \n") + "\n\n")
    assert len(read_celeba(celeba).files) == 40


def test_not_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "not a directory" in _error(tmp_path / "nowhere", capsys, tmp_path)


@pytest.mark.parametrize("name", [ATTR_FILE, PARTITION_FILE])
def test_missing_list_file(celeba: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           name: str) -> None:
    (celeba / name).unlink()
    err = _error(celeba, capsys, tmp_path)
    assert name in err and "missing" in err


def test_a_csv_repackaging_gets_a_hint(celeba: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (celeba / ATTR_FILE).rename(celeba / "list_attr_celeba.csv")
    err = _error(celeba, capsys, tmp_path)
    assert "found list_attr_celeba.csv" in err and "original .txt lists" in err


def test_missing_image_folder(celeba: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    (celeba / IMAGE_DIR).rename(celeba / "elsewhere")
    err = _error(celeba, capsys, tmp_path)
    assert IMAGE_DIR in err and "missing" in err


def test_label_row_with_the_wrong_column_count(celeba: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = celeba / ATTR_FILE
    fields = path.read_text().splitlines()[9].split()
    _edit_line(path, 10, " ".join(fields[:-1]))  # 40 fields instead of 41
    err = _error(celeba, capsys, tmp_path)
    assert f"{ATTR_FILE} line 10: expected 41 fields" in err and "found 40" in err


def test_a_label_that_is_not_plus_or_minus_one(celeba: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = celeba / ATTR_FILE
    fields = path.read_text().splitlines()[4].split()
    fields[7] = "0"
    _edit_line(path, 5, " ".join(fields))
    assert f"{ATTR_FILE} line 5: labels must be -1 or 1" in _error(celeba, capsys, tmp_path)


def test_count_line_disagreeing_with_the_rows(celeba: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _edit_line(celeba / ATTR_FILE, 1, "41")
    err = _error(celeba, capsys, tmp_path)
    assert "announces 41 images but 40 rows follow" in err


def test_wrong_attribute_names(celeba: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    names = list(CELEBA_ATTRIBUTES)
    names[3] = "Sunglasses"
    _edit_line(celeba / ATTR_FILE, 2, " ".join(names))
    assert "unknown attribute 'Sunglasses'" in _error(celeba, capsys, tmp_path)
    _edit_line(celeba / ATTR_FILE, 2, " ".join(names[:39]))
    assert "expected 40 attribute names, found 39" in _error(celeba, capsys, tmp_path)


def test_partition_file_missing_an_image(celeba: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _edit_line(celeba / PARTITION_FILE, 7, None)
    err = _error(celeba, capsys, tmp_path)
    assert "lists 39 images" in err and "first missing: 000007.jpg" in err


def test_partition_file_with_a_bad_split(celeba: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _edit_line(celeba / PARTITION_FILE, 3, "000003.jpg 5")
    assert f"{PARTITION_FILE} line 3: expected `FILE 0|1|2`" in _error(celeba, capsys, tmp_path)


def test_missing_images_are_named_and_counted_up_front(
        celeba: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (celeba / IMAGE_DIR / "000012.jpg").unlink()
    (celeba / IMAGE_DIR / "000030.jpg").unlink()
    err = _error(celeba, capsys, tmp_path)
    assert "000012.jpg: listed in list_attr_celeba.txt but missing and 1 more" in err


def test_an_empty_image_file(celeba: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    (celeba / IMAGE_DIR / "000005.jpg").write_bytes(b"")
    assert "000005.jpg: empty" in _error(celeba, capsys, tmp_path)


def test_a_file_that_is_not_an_image(celeba: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (celeba / IMAGE_DIR / "000009.jpg").write_text("<html>404 not found</html>")
    assert "000009.jpg: not a readable image" in _error(celeba, capsys, tmp_path)


def test_the_dataset_reports_a_truncated_or_vanished_image_instead_of_raising(
        celeba: Path) -> None:
    index = read_celeba(celeba)
    good = (celeba / IMAGE_DIR / "000002.jpg").read_bytes()
    (celeba / IMAGE_DIR / "000002.jpg").write_bytes(good[: len(good) // 2])
    (celeba / IMAGE_DIR / "000003.jpg").unlink()  # removed after the up-front check
    data = CelebaImages(index, np.arange(4), 32)
    image, labels, row, error = data[0]
    assert row == 0
    assert error == "" and image.shape == (3, 32, 32) and image.float().std() > 10
    assert labels.tolist() == index.labels[0].astype(float).tolist()
    assert "000002.jpg" in data[1][3] and "truncated" in data[1][3]
    assert data[2][3] == "000003.jpg: missing"
    assert data[2][2] == 2


def test_training_crops_stay_inside_the_picture(celeba: Path) -> None:
    index = read_celeba(celeba)
    data = CelebaImages(index, np.arange(40), 32, augment=True, seed=1)
    for epoch in range(3):
        data.epoch = epoch
        assert all(data[i][3] == "" for i in range(40))
    # Same (seed, epoch, row): same crop, so a resumed run sees the same batches.
    data.epoch = 1
    first = data[5][0]
    assert (data[5][0] == first).all()
    data.epoch = 2
    assert not (data[5][0] == first).all()


def test_read_celeba_raises_tlgan_errors(celeba: Path) -> None:
    (celeba / ATTR_FILE).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TlganError, match="not a text file"):
        read_celeba(celeba)


def test_synthetic_images_have_celebas_shape(celeba: Path) -> None:
    with Image.open(celeba / IMAGE_DIR / "000001.jpg") as image:
        assert image.format == "JPEG" and image.size == (40, 49)
