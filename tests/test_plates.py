"""Plate reading with the real models on real photos, the UK format rules, and voting."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import pipeline.models
from pipeline.cli import app
from pipeline.models import ModelError, resolve_model
from pipeline.plates import PlateRead, PlateReader, classify, vote
from pipeline.plates.ocr import FastPlateOCR
from pipeline.plates.types import UK, is_foreign
from pipeline.plates.ladder import fixed

SHARED = pipeline.models.PROJECT_ROOT.parent / "shared"
SAMPLES = SHARED / "models" / "samples"
HANGZHOU = SHARED / "data" / "footage" / "hangzhou_fixed_cctv_720p.mp4"


@pytest.fixture(scope="session")
def reader() -> PlateReader:
    return PlateReader.from_models()


@pytest.fixture(scope="session")
def hangzhou_frame() -> np.ndarray:
    """Frame 10: the white minivan AR606L passing, two parked cars."""
    capture = cv2.VideoCapture(str(HANGZHOU))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 10)
    ok, frame = capture.read()
    capture.release()
    assert ok, HANGZHOU
    return frame


def texts(reads: list[PlateRead]) -> set[str]:
    return {r.text for r in reads}


def test_reads_the_uk_golf(reader):
    reads = reader.read_image(cv2.imread(str(SAMPLES / "uk_golf_OY09FEU.jpg")))
    assert "OY09FEU" in texts(reads)
    read = next(r for r in reads if r.text == "OY09FEU")
    assert read.format == "current"
    assert len(read.char_confidence) == 7 and 0.5 < read.confidence <= 1
    assert read.crop is not None and read.crop.shape[1] == read.box[2] - read.box[0]


def test_reads_both_porsche_plates(reader):
    reads = reader.read_image(cv2.imread(str(SAMPLES / "uk_porsche_BIG918_LF64FUT.jpg")))
    assert {"BIG918", "LF64FUT"} <= texts(reads)


def test_reads_a_plate_inside_a_vehicle_box(reader, hangzhou_frame):
    # The minivan's box in frame 10 (from the vehicle detector), read at vehicle scale.
    reads = reader.read_vehicle(hangzhou_frame, (709, 205, 986, 525), frame_index=10)
    assert [r.text[-6:] for r in reads] == ["AR606L"]  # the OCR cannot read the province sign
    assert reads[0].frame_index == 10
    x1, y1, x2, y2 = reads[0].box
    assert 709 <= x1 < x2 <= 986 and 205 <= y1 < y2 <= 525


def test_reads_a_small_blurred_plate_with_a_second_box(reader):
    # The golf as CCTV gives it (the first, fixed ladder): plate 60 px wide, motion blur, noise, JPEG.
    small = fixed(cv2.imread(str(SAMPLES / "uk_golf_OY09FEU.jpg")), labelled_width=189, plate_width=60, seed=1)
    reads = reader.read_image(small)
    assert texts(reads) == {"OY09FEU"}
    # Found again around itself, so both boxes' shifted crops are voted.
    assert len(reader._plate_crops(small, reads[0].box)) == 2 * len(reader.settings.shifts)


def test_skips_vehicles_too_small_to_hold_a_readable_plate(reader, hangzhou_frame):
    assert reader.read_vehicle(hangzhou_frame, (600, 200, 680, 260)) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0Y09FEU", ("OY09FEU", "current")),  # a digit where the format needs a letter
        ("OYO9FEU", ("OY09FEU", "current")),  # a letter where it needs a digit
        ("RL04XVM", ("RL04XVM", "current")),  # already fits: untouched
        ("rl04 xvm", ("RL04XVM", "current")),
        ("L417VS", ("L417VS", "unknown")),  # Dutch: no UK format, kept as read
        ("RK099AN", ("RK099AN", "unknown")),  # Slovak
        ("BA268IM", ("BA268IM", "unknown")),  # Slovak: two swaps would make it UK suffix; not done
        ("A123BCD", ("A123BCD", "prefix")),
        ("ABC123D", ("ABC123D", "suffix")),
        ("ABZ1234", ("ABZ1234", "northern_ireland")),
        ("ABC1234", ("ABC1234", "dateless")),
        ("1234AB", ("1234AB", "cherished")),
        ("GPG", ("GPG", "unknown")),  # no swap into the loose dateless shapes
    ],
)
def test_uk_formats(raw, expected):
    assert classify(raw) == expected


def test_vote_fixes_misreads_across_frames():
    reads = [PlateRead.from_text(t, frame_index=i) for i, t in enumerate(("OY09FEU", "0Y09FEU", "OY09FEV"))]
    result = vote(reads)
    assert (result.plate, result.format, result.status) == ("OY09FEU", "current", "read")
    assert (result.reads, result.total_reads) == (2, 3)
    assert [(a.text, a.reads) for a in result.alternatives] == [("OY09FEU", 2), ("OY09FEV", 1)]
    assert result.char_confidence[-1] < result.char_confidence[0]  # the disputed last character
    assert result.best.text == "OY09FEU"


def test_vote_aligns_reads_of_different_lengths():
    reads = [PlateRead.from_text(t) for t in ("LF64FUT", "LF64FUT", "LF4FUT", "LF64FUTT")]
    assert vote(reads).plate == "LF64FUT"


def test_one_read_alone_is_low_confidence():
    result = vote([PlateRead.from_text("OY09FEU", confidence=0.99)])
    assert (result.plate, result.status, result.reads) == ("OY09FEU", "low_confidence", 1)


def test_no_reads_is_unreadable():
    result = vote([])
    assert (result.plate, result.status, result.best, result.best_crop_png) == ("", "unreadable", None, None)


def test_best_read_carries_its_frame_and_crop(reader):
    image = cv2.imread(str(SAMPLES / "uk_golf_OY09FEU.jpg"))
    read = reader.read_image(image)[0]
    other = PlateRead.from_text("OY09FEU", confidence=0.5, frame_index=7)
    result = vote([other, read])
    assert result.best is read and result.best.frame_index == 0
    png = cv2.imdecode(np.frombuffer(result.best_crop_png, np.uint8), cv2.IMREAD_COLOR)
    assert png.shape == read.crop.shape


def test_image_without_a_plate_gives_an_empty_list(reader, hangzhou_frame, tmp_path):
    road = tmp_path / "road.png"
    cv2.imwrite(str(road), hangzhou_frame[400:620, 1000:1280])  # empty carriageway and arrows
    assert reader.read_image(cv2.imread(str(road))) == []


def test_cli_reads_plates_as_json_and_reports_an_unreadable_file(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    golf = SAMPLES / "uk_golf_OY09FEU.jpg"
    result = CliRunner().invoke(app, ["read-plates", str(broken), str(golf), "--format", "json"])
    assert result.exit_code == 1
    assert f"cannot read image {broken}" in result.stderr
    out = json.loads(result.stdout)  # standard output carries only JSON
    assert out[0]["image"] == str(broken) and out[0]["plates"] == [] and "error" in out[0]
    assert out[1]["image"] == str(golf)
    assert [p["text"] for p in out[1]["plates"]] == ["OY09FEU"]
    assert set(out[1]["plates"][0]) >= {"text", "confidence", "format", "box"}


@pytest.mark.parametrize(
    ("photo", "plates", "country"),
    [
        ("uk_golf_OY09FEU.jpg", {"OY09FEU"}, UK),
        ("uk_porsche_BIG918_LF64FUT.jpg", {"BIG918", "LF64FUT"}, UK),
        ("eu_picasso_98CTM78.jpg", {"98CTM78"}, "France"),
        ("eu_skoda_octavia_MBN7505.jpg", {"MBN7505"}, "Czech Republic"),
    ],
)
def test_default_ocr_reads_the_sample_photos_exactly_with_their_country(reader, photo, plates, country):
    reads = reader.read_image(cv2.imread(str(SAMPLES / photo)))
    assert texts(reads) == plates
    assert {r.country for r in reads} == {country}
    assert is_foreign(country) == (country != UK)


@pytest.mark.parametrize("model", ["plate_ocr_v2", "plate_ocr"])  # as it ships, and the fine-tuned default
def test_v2_ocr_reads_the_sample_crops_with_their_region(model):
    ocr = FastPlateOCR(resolve_model(model), resolve_model("plate_ocr_config"))
    crops = [cv2.cvtColor(cv2.imread(str(SAMPLES / f"plate_crop_{t}.png")), cv2.COLOR_BGR2RGB) for t in ("AD799KB", "KRW301")]
    reads = ocr.read(crops)
    assert [r.text for r in reads] == ["AD799KB", "KRW301"]
    assert reads[0].region == "Argentina" and 0.5 < reads[0].region_prob <= 1


def test_v1_stays_selectable_and_has_no_country():
    ocr = FastPlateOCR(resolve_model("plate_ocr_v1"), resolve_model("plate_ocr_v1_config"))
    [read] = ocr.read([cv2.cvtColor(cv2.imread(str(SAMPLES / "plate_crop_AD799KB.png")), cv2.COLOR_BGR2RGB)])
    assert (read.text, read.region, read.region_prob) == ("AD799KB", None, None)


def test_vote_gives_the_passage_its_country_weighted_by_confidence():
    def read(country, confidence):
        return PlateRead("OY09FEU", (0.9,) * 7, 0.9, (0, 0, 0, 0), 0, "current", "OY09FEU", 0.5, country, confidence)

    result = vote([read(UK, 0.9), read("Ireland", 0.95), read(UK, 0.6)])
    assert (result.country, result.country_confidence) == (UK, 0.5)  # (0.9 + 0.6) / 3
    assert vote([PlateRead.from_text("OY09FEU")] * 2).country is None  # a model without a region head


def test_missing_or_corrupt_ocr_model_is_named(tmp_path):
    config = resolve_model("plate_ocr_config")
    with pytest.raises(ModelError, match=re.escape(f"plate OCR model {tmp_path / 'gone.onnx'}: not found")):
        FastPlateOCR(tmp_path / "gone.onnx", config)
    corrupt = tmp_path / "cct_xs_v2_global.onnx"
    corrupt.write_bytes(resolve_model("plate_ocr").read_bytes()[:5000])  # a truncated copy
    with pytest.raises(ModelError, match=re.escape(f"plate OCR model {corrupt} with config {config} cannot be loaded")):
        FastPlateOCR(corrupt, config)
