"""Site files are checked before any work: each bad setting is refused naming its field, and
`buslane site check` names every way a site does not fit its camera's footage (real clips)."""

from __future__ import annotations

import pytest
import yaml

from pipeline.models import resolve_model
from pipeline.site import SiteConfigError, load_site
from pipeline.store import Store
from tests.conftest import BUS_LANE_SITE, FOOTAGE, SHENZHEN, buslane, sidecar, write_low_rate_clip

JAMCAM = FOOTAGE / "jamcam_1_cromwell_rd_earls_court_rd.mp4"  # 352x288
HANGZHOU = FOOTAGE / "hangzhou_fixed_cctv_720p.mp4"


def write_site(tmp_path, change) -> str:
    site = yaml.safe_load(BUS_LANE_SITE.read_text())
    change(site)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s["lanes"].__setitem__(0, [[0, 0], [100, 100], [100, 0], [0, 100]]),
         "lanes.0: the polygon is not simple: Self-intersection[50 50]"),
        (lambda s: s.setdefault("exemption_zones", []).append([[0, 0], [10, 0], [0, 10], [10, 10]]),
         "exemption_zones.0: the polygon is not simple"),
        (lambda s: s["lanes"][0].__setitem__(2, [float("inf"), 200]), "lanes.0.2.0: Input should be a finite number"),
        (lambda s: s["ignore_zones"][0].__setitem__(0, [470, float("nan")]), "ignore_zones.0.0.1: Input should be a finite number"),
        (lambda s: s.__setitem__("centreline", [[610, 360], [610, 360]]),
         "centreline: centreline points must be distinct; (610, 360) repeated"),
        (lambda s: s.__setitem__("centreline", [[610, 360], [560, 240], [610, 360]]),
         "centreline: centreline points must be distinct"),
        (lambda s: s.__setitem__("start_time", {"source": "filename", "pattern": "(?P<ts>[0-9", "format": "%Y"}),
         "start_time.pattern: not a valid regular expression: unterminated character set"),
        (lambda s: s.__setitem__("start_time", {"source": "filename", "pattern": "([0-9]+)", "format": "%Y"}),
         "start_time.pattern: pattern needs a named group (?P<ts>...)"),
    ],
)
def test_each_bad_setting_is_refused_naming_its_field(tmp_path, change, message):
    path = write_site(tmp_path, change)
    with pytest.raises(SiteConfigError) as refused:
        load_site(path)
    assert str(path) in str(refused.value) and message in str(refused.value)


@pytest.mark.parametrize("field", ["detection", "plates"])
def test_a_bad_model_path_is_refused_naming_its_field(tmp_path, field):
    not_a_model = tmp_path / "notes.onnx"
    not_a_model.write_text("not a model\n")
    key = "model" if field == "detection" else "detector"
    path = write_site(tmp_path, lambda s: s.__setitem__(field, {key: str(not_a_model)}))
    done = buslane("process", path, SHENZHEN, "--db", tmp_path / "m.duckdb", "--no-progress",
                   "--start", "2016-03-18T12:21:25", check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{field}" in done.stderr and str(not_a_model) in done.stderr and "cannot be loaded" in done.stderr
    missing = write_site(tmp_path, lambda s: s.__setitem__(field, {key: "no_such_model"}))
    done = buslane("process", missing, SHENZHEN, "--db", tmp_path / "m.duckdb", "--no-progress", check=False)
    assert done.returncode == 2 and f"{field}.{key}: model 'no_such_model' is neither a name in" in done.stderr


def test_site_check_names_a_polygon_outside_a_small_frame(tmp_path):
    clip = tmp_path / "jamcam.mp4"
    clip.symlink_to(JAMCAM)
    sidecar(clip, "2026-11-21T07:30:00")
    done = buslane("site", "check", BUS_LANE_SITE, clip, check=False)
    assert done.returncode == 1
    problems = [line for line in done.stdout.splitlines() if "PROBLEM" in line]
    assert any(line.startswith(f"{clip}: PROBLEM: lanes.0: ") and "outside the 352x288 frame" in line
               and "(568, 360)" in line for line in problems), done.stdout
    assert any("centreline: " in line for line in problems)
    assert not any("start time" in line or "frame rate" in line for line in problems)  # those are fine


def test_footage_of_another_size_than_the_sites_frame_size_is_refused_even_where_its_zones_fit(tmp_path):
    """A 640x360 site's zones fit inside a 1280x720 frame, in its top-left quarter: only the site's
    frame_size (written by the Sites page) tells that the camera, or the file, is not the one drawn."""
    clip = tmp_path / "hangzhou.mp4"
    clip.symlink_to(HANGZHOU)  # 1280x720
    sidecar(clip, "2016-03-18T12:21:25")
    unsized = buslane("site", "check", BUS_LANE_SITE, clip)  # without frame_size: nothing to tell by, but a note
    assert unsized.returncode == 0 and "does not name its frame_size" in unsized.stdout
    sized = write_site(tmp_path, lambda s: s.__setitem__("frame_size", [640, 360]))
    done = buslane("site", "check", sized, clip, check=False)
    assert done.returncode == 1
    assert (f"{clip}: PROBLEM: frame_size: the zones were drawn on 640x360 frames and this footage is 1280x720"
            in done.stdout), done.stdout
    assert "does not name its frame_size" not in done.stdout
    db = tmp_path / "night.duckdb"
    done = buslane("process", sized, clip, "--db", db, "--no-progress", "--evidence", tmp_path / "ev", check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr  # 1: no file of the batch could be processed
    (row,) = Store(db).query("SELECT status, error FROM footage_files")
    assert row["status"] == "failed" and "frame_size: the zones were drawn on 640x360 frames" in row["error"]


def test_site_check_passes_the_footage_the_site_was_drawn_on(tmp_path):
    clip = tmp_path / "shenzhen.mp4"
    clip.symlink_to(SHENZHEN)
    sidecar(clip, "2016-03-18T12:21:25")
    done = buslane("site", "check", BUS_LANE_SITE, clip)
    assert f"{clip}: ok (640x360, 25 frames/s, starts 2016-03-18T12:21:25+00:00)" in done.stdout


def test_site_check_names_a_low_frame_rate_and_a_start_time_it_cannot_find(tmp_path):
    low = tmp_path / "low_rate.mp4"
    write_low_rate_clip(low)  # 4 frames per second, no sidecar
    done = buslane("site", "check", BUS_LANE_SITE, low, tmp_path / "missing.mp4", check=False)
    assert done.returncode == 1
    assert f"{low}: PROBLEM: frame rate 4 frames/s, under the legal minimum of 5" in done.stdout
    assert f"{low}: PROBLEM: start time: no sidecar low_rate.mp4.json" in done.stdout
    assert f"{tmp_path / 'missing.mp4'}: PROBLEM: no such file" in done.stdout
    assert "2 of 2 files with problems" in done.stdout


def test_site_check_names_a_model_setting_that_is_not_a_model_file(tmp_path):
    """A file that exists is not enough: check refuses what the batch could not load, naming the field."""
    clip = tmp_path / "shenzhen.mp4"
    clip.symlink_to(SHENZHEN)
    sidecar(clip, "2016-03-18T12:21:25")
    notes = tmp_path / "notes.onnx"
    notes.write_text("not a model\n")
    passwords = tmp_path / "passwd"
    passwords.write_text("root:x:0:0\n")
    path = write_site(tmp_path, lambda s: s.update(detection={"model": str(passwords)},
                                                   plates={"detector": str(notes), "ocr_config": str(notes)}))
    done = buslane("site", "check", path, clip, check=False)
    assert done.returncode == 1
    problems = [line for line in done.stdout.splitlines() if "PROBLEM" in line]
    assert any(f"detection.model: '{passwords}' is not a .onnx or .pt or .xml file" in line for line in problems), done.stdout
    assert any(f"plates.detector: '{notes}' is not a valid .onnx file" in line for line in problems), done.stdout
    assert any(f"plates.ocr_config: '{notes}' is not a .yaml or .yml file" in line for line in problems), done.stdout
    assert not any("plates.ocr:" in line for line in problems)  # the manifest's OCR is fine
    # The real models and config, named by path rather than by manifest name, pass.
    detector = resolve_model("vehicle_detector")
    real = write_site(tmp_path, lambda s: s.update(
        detection={"model": str(next(detector.glob("*.xml")))},
        plates={"detector": str(resolve_model("plate_detector")), "ocr": str(resolve_model("plate_ocr")),
                "ocr_config": str(resolve_model("plate_ocr_config"))}))
    done = buslane("site", "check", real, clip, check=False)
    assert done.returncode == 0 and "PROBLEM" not in done.stdout, done.stdout
