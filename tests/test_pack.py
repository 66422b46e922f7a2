"""Evidence packs for appeals, from the real batch's cases and evidence (the `night` fixture).

One case is validated through the review services (with a plate correction, as the reader read no
plate on this footage) and packed once for the module; tampering tests rewrite copies of that ZIP.
Page 1 of the summary is saved to var/screenshots/pack_page1.png for people to look at.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import numpy as np
import pypdf
import pypdfium2
import pytest
from typer.testing import CliRunner

from evidence.manifest import hash_file
from evidence.pack.builder import PackError, PackResult, build_pack
from evidence.pack.verify import verify_pack
from evidence.settings import move_root
from pipeline.deadlines import describe_decided, serve_by, uk_day
from pipeline.cli import app as cli
from pipeline.models import PROJECT_ROOT
from pipeline.store import Store
from review_app.config import DB_ENV, EVIDENCE_ENV, USERS_ENV
from review_app.services import corrections, decisions
from review_app.services.users import User
from tests.conftest import BUS_LANE_SITE, CLI_OFFICER, buslane
from tests.test_review_app import click, goto, signed_in, users_file  # noqa: F401 (users_file is a fixture)
from tests.test_segments import recording  # noqa: F401 (a fixture: one clip cut into two abutting files)

SCREENSHOT = PROJECT_ROOT / "var" / "screenshots" / "pack_page1.png"
JO, AL = User("jo", "officer"), User("al", "officer")
EVIDENCE = ["original.mp4", "review.mp4", "overview.png", "plate.png", "metadata.json"]


@dataclass(frozen=True)
class Packed:
    store: Store
    root: Path
    result: PackResult
    pending_id: str

    @property
    def case_id(self) -> str:
        return self.result.contravention_id

    def member(self, name: str) -> bytes:
        with zipfile.ZipFile(self.result.path) as zf:
            return zf.read(f"{self.case_id}/{name}")


def copy_night(night: dict, folder: Path) -> tuple[Store, Path, list[str]]:
    """A private copy of the batch's database and evidence, and its two pending case ids."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(night["db"], folder / "night.duckdb")
    shutil.copytree(night["evidence"], folder / "evidence")
    store = Store(folder / "night.duckdb")
    move_root(store, folder / "evidence")  # the copy's own evidence, not the night's
    ids = [r["id"] for r in store.query("SELECT id FROM contraventions WHERE status = 'pending' ORDER BY id")]
    return store, folder / "evidence", ids


@pytest.fixture(scope="module")
def packed(night, tmp_path_factory) -> Packed:
    store, root, (case_id, pending_id) = copy_night(night, tmp_path_factory.mktemp("pack"))
    assert corrections.correct_plate(store, case_id, JO, "OY09 FEU").ok
    assert decisions.validate(store, case_id, JO).ok
    result = build_pack(store, case_id, root, "jo", root.parent / "out" / "pack.zip")
    return Packed(store, root, result, pending_id)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def statement_text(data: bytes) -> str:
    doc = docx.Document(io.BytesIO(data))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([doc.sections[0].header.paragraphs[0].text, *(p.text for p in doc.paragraphs), *cells])


def rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """Copy a ZIP entry by entry: `change` maps a name in the pack's folder to new bytes, or None to drop it;
    names not yet in the pack are added."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        folder = zin.namelist()[0].split("/")[0]
        for info in zin.infolist():
            name = info.filename.removeprefix(f"{folder}/")
            if name not in change:
                zout.writestr(info, zin.read(info))
            elif change[name] is not None:
                zout.writestr(info, change[name])
        for name in change.keys() - {i.filename.removeprefix(f"{folder}/") for i in zin.infolist()}:
            zout.writestr(f"{folder}/{name}", change[name])
    return target


def run_cli(*args: object) -> tuple[int, str]:
    done = CliRunner().invoke(cli, [str(a) for a in args])
    return done.exit_code, done.output


# --- what the pack holds ------------------------------------------------------------------------

def test_pack_holds_summary_statement_evidence_readme_and_hash_lists(packed, night):
    with zipfile.ZipFile(packed.result.path) as zf:
        names = zf.namelist()
    assert names == [f"{packed.case_id}/{n}" for n in ["case_summary.pdf", "witness_statement.docx", *EVIDENCE,
                                                        "README.txt", "manifest.json", "manifest.json.sig",
                                                        "SHA256SUMS"]]
    folder = packed.root / packed.store.query("SELECT folder FROM evidence_cases WHERE contravention_id = ?",
                                              [packed.case_id])[0]["folder"]
    for name in EVIDENCE:  # the evidence exactly as written and recorded by the batch
        assert packed.member(name) == (folder / name).read_bytes(), name
    manifest = json.loads(packed.member("manifest.json"))
    assert manifest["pack_id"] == packed.result.pack_id and manifest["contravention_id"] == packed.case_id
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == {n.split("/", 1)[1] for n in names} - {"manifest.json", "manifest.json.sig", "SHA256SUMS"}
    assert all(hashlib.sha256(packed.member(n)).hexdigest() == sha for n, sha in listed.items())
    readme = packed.member("README.txt").decode()
    assert "sha256sum -c SHA256SUMS" in readme and packed.result.pack_id in readme


def test_hashes_check_offline_with_sha256sum(packed, tmp_path):
    with zipfile.ZipFile(packed.result.path) as zf:
        zf.extractall(tmp_path)
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / packed.case_id, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == 10  # every file but SHA256SUMS itself


def stamp(when, frame: int) -> str:
    """A time and frame as the pack writes them (the Shenzhen site is in London time)."""
    local = when.astimezone(ZoneInfo("Europe/London"))
    minutes = int(local.utcoffset().total_seconds() // 60)
    offset = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d} {local:%Z} (UTC{offset}), frame {frame}"


def passage_of(packed: Packed) -> dict:
    (row,) = packed.store.query("SELECT p.* FROM lane_passages p JOIN contraventions c ON c.passage_id = p.id "
                                "WHERE c.id = ?", [packed.case_id])
    return row


def test_summary_pdf_states_plate_times_camera_rules_decision_and_hashes(packed):
    text = pdf_text(packed.member("case_summary.pdf"))
    flat = " ".join(text.split())  # table cells wrap: compare with single spaces
    p = passage_of(packed)  # the rider's facts as the batch stored them
    for expected in [
        packed.case_id, "SZ-BUSLANE-01", "Shenzhen overpass",
        "OY09FEU", "Corrected by jo", "The plate reader read no registration mark",
        stamp(p["first_seen"], p["first_frame"]), stamp(p["last_seen"], p["last_frame"]),
        "Friday 18 March 2016", f"{p['seconds_in_lane']:.2f} s", f"{abs(p['distance_px']):.0f} px",
        "Mon-Fri 07:00-10:00, 12:00-19:00", "Fri 12:00-19:00", "bus, bicycle",
        "no whitelist had been imported", "validated by jo", "plate corrected",
        packed.result.pack_id, hashlib.sha256(packed.member("original.mp4")).hexdigest(),
        hashlib.sha256(packed.member("witness_statement.docx")).hexdigest(),
    ]:
        assert expected in flat, expected
    with pypdfium2.PdfDocument(packed.member("case_summary.pdf")) as pdf:
        width, height = pdf[0].get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points


def test_the_pack_states_the_review_deadline_when_it_was_decided_and_the_last_day_to_serve(packed):
    """The dates the one deadline rule gives (pipeline/deadlines.py), as the app and the export say them."""
    case = [packed.case_id]
    (row,) = packed.store.query("SELECT first_seen, review_deadline FROM contraventions WHERE id = ?", case)
    (first,) = packed.store.query('SELECT min("at") AS at FROM decisions WHERE contravention_id = ?', case)
    deadline = f"{row['review_deadline'].astimezone(ZoneInfo('Europe/London')):%Y-%m-%d %H:%M:%S}"
    decided = describe_decided(row["review_deadline"], first["at"])  # validated today, years after the footage
    serve = f"{serve_by(uk_day(row['first_seen'])):%A %d %B %Y}"
    assert decided.endswith("after the review deadline (late)") and serve == "Thursday 14 April 2016"
    summary = " ".join(pdf_text(packed.member("case_summary.pdf")).split())
    readme = " ".join(packed.member("README.txt").decode().split())
    for name, text in (("case_summary.pdf", summary), ("README.txt", readme)):
        for expected in ("Review deadline", deadline, decided, "Serve the notice by", serve,
                         "original.mp4 holds frames"):
            assert expected in text, (name, expected)


def test_a_passage_joined_across_segment_files_is_packed_with_each_original_described(recording, tmp_path):
    """The rider cut across two abutting files (tests/test_segments.py): one original per file, each said."""
    db, evidence = tmp_path / "night.duckdb", tmp_path / "evidence"
    buslane("process", BUS_LANE_SITE, recording.first, recording.second, "--db", db, "--no-progress",
            "--evidence", evidence)
    store = Store(db)
    (case,) = store.query("SELECT c.id FROM contraventions c JOIN lane_passages p ON p.id = c.passage_id"
                          " WHERE p.parts IS NOT NULL AND c.status = 'pending'")
    assert decisions.validate(store, case["id"], JO, plate="OY09FEU").ok
    result = build_pack(store, case["id"], evidence, "jo", tmp_path / "joined.zip")
    with zipfile.ZipFile(result.path) as zf:
        member = {n.split("/", 1)[1]: n for n in zf.namelist()}
        files = json.loads(zf.read(member["metadata.json"]))["files"]
        summary = " ".join(pdf_text(zf.read(member["case_summary.pdf"])).split())
        readme = " ".join(zf.read(member["README.txt"]).decode().split())
    assert {"original_1.mp4", "original_2.mp4"} <= member.keys() and "original.mp4" not in member
    for name, text in (("case_summary.pdf", summary), ("README.txt", readme)):
        assert "original.mp4" not in text, name
        for original, source in (("original_1.mp4", recording.first), ("original_2.mp4", recording.second)):
            info = files[original]
            for expected in (f"{original} holds frames {info['first_frame']} to {info['last_frame']}",
                             f"frames {info['source_first_frame']} to {info['source_last_frame']} of the recording "
                             f"{source.name}"):
                assert expected in text, (name, expected)
    assert "split its recording into 2 files" in summary


def test_page_one_renders_with_the_stills_and_is_saved_for_people_to_look_at(packed):
    with pypdfium2.PdfDocument(packed.member("case_summary.pdf")) as pdf:
        image = pdf[0].render(scale=2).to_pil()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        image.save(SCREENSHOT)
    pixels = np.asarray(image.convert("RGB"), np.int16)
    assert pixels.shape[:2] == (1684, 1191)
    ink = (pixels.min(axis=2) < 200).mean()  # text, table rules and the two stills
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))  # anti-aliased text alone gives a few hundred
    assert 0.15 < ink < 0.9 and colours > 10_000, (ink, colours)


def test_witness_statement_is_a_marked_draft_with_the_cases_facts(packed):
    text = statement_text(packed.member("witness_statement.docx"))
    assert text.count("DRAFT — to be checked and signed") >= 2  # the page header and the notice
    p = passage_of(packed)
    entered = stamp(p["first_seen"], p["first_frame"]).split(" ", 1)[1].replace(", frame", " (frame")
    for expected in [packed.case_id, "SZ-BUSLANE-01", "motorcycle", "Friday 18 March 2016",
                     entered, "OY09FEU", "signed in as jo",
                     "I believe that the facts stated in this witness statement are true",
                     hashlib.sha256(packed.member("original.mp4")).hexdigest()]:
        assert expected in text, expected


def test_pack_and_its_export_are_recorded_with_the_zips_sha256(packed):
    zip_sha = hash_file(packed.result.path)[0]
    row = packed.store.query("SELECT * FROM packs WHERE id = ?", [packed.result.pack_id])[0]
    assert (row["contravention_id"], row["created_by"], row["file_name"]) == (packed.case_id, "jo", "pack.zip")
    assert row["zip_sha256"] == zip_sha == packed.result.zip_sha256
    assert row["manifest_sha256"] == hashlib.sha256(packed.member("manifest.json")).hexdigest()
    audited = packed.store.query("SELECT actor, entity_id, details FROM audit_log WHERE action = 'pack.exported'")
    assert [(a["actor"], a["entity_id"]) for a in audited] == [("jo", packed.case_id)]
    details = json.loads(audited[0]["details"])
    assert details["zip_sha256"] == zip_sha and details["pack_id"] == packed.result.pack_id


# --- verification ---------------------------------------------------------------------------------

def test_untouched_pack_verifies_alone_and_against_the_store(packed):
    alone = verify_pack(packed.result.path)
    assert alone.ok and alone.checked == 8, alone.lines()
    code, out = run_cli("pack", "verify", packed.result.path, "--db", packed.store.path)
    assert code == 0 and out.startswith(f"OK pack {packed.result.pack_id}"), out
    assert "matches the one recorded" in out and "byte for byte the one exported" in out


@pytest.mark.parametrize("what, change, named", [
    ("altered", "one byte of the clip", "original.mp4"),
    ("missing", "a still removed", "overview.png"),
    ("added", "a file added", "notes.txt"),
])
def test_tampering_fails_and_names_the_file(packed, tmp_path, what, change, named):
    if what == "altered":
        clip = bytearray(packed.member("original.mp4"))
        clip[len(clip) // 2] ^= 0x01
        edits = {"original.mp4": bytes(clip)}
    else:
        edits = {named: None} if what == "missing" else {named: b"nothing to see here\n"}
    tampered = rewrite(packed.result.path, tmp_path / "tampered.zip", edits)
    result = verify_pack(tampered)
    assert not result.ok and getattr(result, what) == (named,), (change, result.lines())
    code, out = run_cli("pack", "verify", tampered)
    assert code == 1 and out.startswith("FAILED") and f"{what}: {named}" in out, out


def test_a_self_consistent_forged_manifest_fails_its_signature_and_the_store(packed, tmp_path):
    clip = bytearray(packed.member("original.mp4"))
    clip[1000] ^= 0xFF
    manifest = json.loads(packed.member("manifest.json"))
    for f in manifest["files"]:
        if f["path"] == "original.mp4":
            f["sha256"] = hashlib.sha256(clip).hexdigest()
    forged = (json.dumps(manifest, indent=2) + "\n").encode()
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in manifest["files"])
    sums += f"{hashlib.sha256(forged).hexdigest()}  manifest.json\n"
    sums += f"{hashlib.sha256(packed.member('manifest.json.sig')).hexdigest()}  manifest.json.sig\n"
    tampered = rewrite(packed.result.path, tmp_path / "forged.zip",
                       {"original.mp4": bytes(clip), "manifest.json": forged, "SHA256SUMS": sums.encode()})
    alone = verify_pack(tampered)  # every hash consistent: only the signature tells, offline
    assert not alone.ok and not (alone.altered or alone.missing or alone.added), alone.lines()
    assert "signature of manifest.json does not verify" in alone.problems[0]
    result = verify_pack(tampered, packed.store)
    assert not result.ok and result.altered == ("manifest.json",), result.lines()
    assert any("is not the one recorded when pack" in p for p in result.problems)
    code, out = run_cli("pack", "verify", tampered, "--db", packed.store.path)
    assert code == 1 and "altered: manifest.json" in out


# --- refusals and the command line -----------------------------------------------------------------

def test_pending_case_is_refused_then_packed_once_validated_with_the_unread_plate_keyed_in(night, tmp_path):
    store, root, (_, case_id) = copy_night(night, tmp_path / "copy")
    with pytest.raises(PackError, match=f"case {case_id} is pending: only validated cases can be packed"):
        build_pack(store, case_id, root, "al", tmp_path / "refused.zip")
    out = tmp_path / "short.zip"
    code, output = run_cli("pack", case_id, "--db", store.path, "--out", out, "--root", root)
    assert code == 1 and "is pending: only validated cases can be packed" in output
    assert not out.exists() and store.query("SELECT count(*) AS n FROM packs")[0]["n"] == 0

    assert decisions.validate(store, case_id, AL, plate="OY09FEU").ok  # unread: keyed in as it is validated
    code, output = run_cli("pack", case_id, "--db", store.path, "--out", out, "--root", root)
    assert code == 0 and str(out) in output, output
    with zipfile.ZipFile(out) as zf:
        summary = " ".join(pdf_text(zf.read(f"{case_id}/case_summary.pdf")).split())
        statement = statement_text(zf.read(f"{case_id}/witness_statement.docx"))
    assert "OY09FEU (entered by al; the plate reader read no registration mark)" in summary
    assert "The plate reader read no registration mark" in summary and "validated by al" in summary
    assert "The registration mark was corrected from no reading to OY09FEU by al" in statement
    code, _ = run_cli("pack", "create", case_id, "--db", store.path, "--out", tmp_path / "long.zip", "--root", root)
    assert code == 0 and verify_pack(tmp_path / "long.zip", store).ok
    actors = [r["actor"] for r in store.query("SELECT actor FROM audit_log WHERE action = 'pack.exported' ORDER BY id")]
    assert actors == [CLI_OFFICER, CLI_OFFICER]  # the officer the OS user is mapped to, never a typed name


def test_altered_evidence_is_not_packed(night, tmp_path):
    store, root, (case_id, _) = copy_night(night, tmp_path / "copy")
    assert decisions.validate(store, case_id, JO, plate="OY09FEU").ok
    review = next(root.rglob(f"{case_id}/review.mp4"))
    data = bytearray(review.read_bytes())
    data[-100] ^= 0x01
    review.write_bytes(bytes(data))
    with pytest.raises(PackError, match="does not match the hashes recorded.*altered: review.mp4"):
        build_pack(store, case_id, root, "jo", tmp_path / "pack.zip")
    assert not (tmp_path / "pack.zip").exists()


# --- the case page ---------------------------------------------------------------------------------

def test_case_page_offers_the_pack_for_a_validated_case_only(night, tmp_path, users_file, monkeypatch):  # noqa: F811
    store, root, (validated, pending) = copy_night(night, tmp_path / "copy")
    assert decisions.validate(store, validated, JO, plate="OY09FEU").ok
    monkeypatch.setenv(DB_ENV, str(store.path))
    monkeypatch.setenv(USERS_ENV, str(users_file))
    monkeypatch.setenv(EVIDENCE_ENV, str(root))
    at = signed_in("jo")
    at.session_state["case_id"] = pending
    goto(at, "Case")
    assert at.title[0].value == f"Case {pending}"
    assert not [b for b in at.button if "evidence pack" in b.label] and not at.get("download_button")

    at.session_state["case_id"] = validated
    goto(goto(at, "Queue"), "Case")
    assert at.title[0].value == f"Case {validated}" and not at.get("download_button")
    click(at, "Make evidence pack")
    assert "Evidence pack" in at.success[0].value
    # The session-checked download (review_app.components.download; downloaded in Chromium in test_review_access)
    button = next(e for e in at.get("component_instance") if e.key == f"pack-zip-{validated}")
    assert '"label": "Download evidence pack (' in button.proto.json_args
    exported = store.query("SELECT actor, entity_id, details->>'zip_sha256' AS sha FROM audit_log"
                           " WHERE action = 'pack.exported'")
    recorded = store.query("SELECT zip_sha256 FROM packs")
    assert exported == [{"actor": "jo", "entity_id": validated, "sha": recorded[0]["zip_sha256"]}]
