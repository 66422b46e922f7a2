"""`buslane site check` names a model setting the batch would refuse the night for (real site files,
real model folders, the real command line)."""

from __future__ import annotations

import pytest
import yaml

from pipeline.models import resolve_model
from tests.conftest import BUS_LANE_SITE, SHENZHEN, buslane, sidecar

START = "2016-03-18T12:21:25"


@pytest.fixture
def clip(tmp_path):
    clip = tmp_path / "shenzhen.mp4"
    clip.symlink_to(SHENZHEN)
    sidecar(clip, START)
    return clip


def site_with(tmp_path, field: str, key: str, value: str):
    site = yaml.safe_load(BUS_LANE_SITE.read_text())
    site.setdefault(field, {})[key] = value
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


@pytest.mark.parametrize("field, key", [("detection", "model"), ("plates", "detector"), ("plates", "ocr"),
                                        ("plates", "ocr_config")])
def test_a_model_setting_that_names_nothing_is_a_problem(tmp_path, clip, field, key):
    site = site_with(tmp_path, field, key, str(tmp_path / "nowhere" / "model.xml"))
    done = buslane("site", "check", site, clip, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{site}: PROBLEM: {field}.{key}: model '{tmp_path / 'nowhere' / 'model.xml'}' is neither a name in" \
        in done.stdout
    assert f"site SZ-BUSLANE-01 ({site}): 1 model setting with problems, 0 of 1 files with problems" in done.stdout


def test_a_folder_that_is_no_model_is_a_problem(tmp_path, clip):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "readme.txt").write_text("the detector goes here\n")
    site = site_with(tmp_path, "detection", "model", str(folder))
    done = buslane("site", "check", site, clip, check=False)
    assert done.returncode == 1
    assert f"{site}: PROBLEM: detection.model: '{folder}' is a folder that holds no model" in done.stdout


def test_a_model_folder_given_by_its_path_passes(tmp_path, clip):
    site = site_with(tmp_path, "detection", "model", str(resolve_model("vehicle_detector")))
    done = buslane("site", "check", site, clip)
    assert "PROBLEM" not in done.stdout and "0 of 1 files with problems" in done.stdout
