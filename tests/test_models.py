"""The model resolver: local files only, checked by sha256, clear errors."""

from __future__ import annotations

import shutil

import pytest

from pipeline.models import ModelError, resolve_model
from tests.conftest import SHARED


def test_resolves_the_shared_models():
    assert resolve_model("vehicle_detector") == SHARED / "models" / "yolo11n_int8_openvino_model"
    assert resolve_model("plate_ocr").name == "plate_ocr_finetuned.onnx"  # the default OCR: v2 fine-tuned here
    assert resolve_model("plate_ocr_v2").name == "cct_xs_v2_global.onnx"  # as it ships, selectable
    assert resolve_model("plate_ocr_v1").name == "cct_xs_v1_global.onnx"  # still selectable


def test_missing_model_names_every_place_looked(tmp_path):
    with pytest.raises(ModelError) as e:
        resolve_model("plate_ocr_v1", [tmp_path / "a", tmp_path / "b"])
    assert f"{tmp_path / 'a' / 'cct_xs_v1_global.onnx'}: not found" in str(e.value)
    assert f"{tmp_path / 'b' / 'cct_xs_v1_global.onnx'}: not found" in str(e.value)


def test_corrupt_copy_is_refused_and_an_intact_one_later_in_the_path_is_used(tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    data = bytearray((SHARED / "models" / "cct_xs_v1_global_plate_config.yaml").read_bytes())
    data[10] ^= 1
    (corrupt / "cct_xs_v1_global_plate_config.yaml").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt"):
        resolve_model("plate_ocr_v1_config", [corrupt])
    assert resolve_model("plate_ocr_v1_config", [corrupt, SHARED / "models"]).parent == SHARED / "models"


def test_folder_model_with_a_missing_file_is_refused(tmp_path):
    copy = tmp_path / "yolo11n_int8_openvino_model"
    shutil.copytree(SHARED / "models" / "yolo11n_int8_openvino_model", copy)
    (copy / "yolo11n.bin").unlink()
    with pytest.raises(ModelError, match=r"yolo11n\.bin: missing"):
        resolve_model("vehicle_detector", [tmp_path])
