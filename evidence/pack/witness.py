"""witness_statement.docx: a plain-English draft statement for the reviewing officer to check, edit and sign.

Word, because the officer edits it before signing (their full name, employer, anything they saw
differently); every page is headed DRAFT until they remove it. What the system cannot know is left
in [square brackets]. The exhibits are the pack's evidence files, each named with its sha256.

>>> write_statement(Path("witness_statement.docx"), facts, header, exhibits)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.shared import Pt, RGBColor

from evidence.manifest import FileRecord
from evidence.pack.facts import CaseFacts
from evidence.pack.manifest import PackHeader

DRAFT = "DRAFT — to be checked and signed"
EXHIBITS = {"original": "the original recording of the contravention, as recorded by the camera",
            "review": "a review copy of the same footage with the date, time, camera and frame number on every frame",
            "overview": "a still of the vehicle in the bus lane", "closeup": "a close-up still",
            "metadata": "a record of how the evidence was produced"}


def write_statement(path: Path, facts: CaseFacts, header: PackHeader, exhibits: list[FileRecord]) -> None:
    doc = Document()
    doc.core_properties.title = f"Witness statement (DRAFT): bus lane contravention {facts.id}"
    doc.core_properties.author = header.created_by
    banner = doc.sections[0].header.paragraphs[0]
    banner.text = f"{DRAFT} · case {facts.id}"
    doc.add_heading("Witness statement", level=0)
    warning = doc.add_paragraph().add_run(
        f"{DRAFT}. Prepared by the enforcement system from the case record. Before signing, watch the footage, "
        "check every fact below against it, fill in the parts in [square brackets] and change anything that is "
        "not what you saw. Remove this notice and the DRAFT heading once it is correct.")
    warning.bold = True
    warning.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)

    officer = facts.validation.officer if facts.validation else "[officer]"
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in (("Statement of", f"[full name] (review system user {officer})"),
                         ("Occupation", "[job title], civil enforcement / CCTV review, [council name]"),
                         ("Case reference", facts.id),
                         ("Penalty charge notice", "[PCN number]")):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value

    for number, text in enumerate(_paragraphs(facts, header, officer, exhibits), 1):
        doc.add_paragraph(f"{number}. {text}")

    doc.add_heading("Exhibits", level=2)
    for i, r in enumerate(exhibits, 1):
        item = doc.add_paragraph(f"[initials]/{i}: {r.path}, {EXHIBITS.get(r.kind, r.kind)}. SHA-256 ")
        item.add_run(r.sha256).font.size = Pt(8)

    doc.add_heading("Statement of truth", level=2)
    doc.add_paragraph("I believe that the facts stated in this witness statement are true.")
    doc.add_paragraph("Signed: ______________________________        Date: ________________")
    doc.add_paragraph(f"Draft prepared {facts.local(header.created_at)} for {header.created_by}, "
                      f"evidence pack {header.pack_id}.").runs[0].font.size = Pt(8)
    doc.save(str(path))


def _paragraphs(facts: CaseFacts, header: PackHeader, officer: str, exhibits: list[FileRecord]) -> list[str]:
    row, passage, case = facts.row, facts.passage, facts.case
    entered = case.time_of(case.first_frame)
    v = facts.validation
    when_reviewed = f"on {v.at.astimezone(facts.tz):%d %B %Y}" if v else "[date]"
    plate = (f"The vehicle's registration mark is {row['plate']}."
             if row["plate"] else
             "The system could not read the vehicle's registration mark from the footage. "
             "[Say how the vehicle was identified, or do not sign this statement.]")
    corrections = "".join(f" The registration mark was corrected from {c.old or 'no reading'} to {c.new} by {c.officer} "
                          f"on {c.at.astimezone(facts.tz):%d %B %Y}." for c in facts.corrections)
    return [
        f"I am employed by [council name] as [job title]. My duties include reviewing recordings from the council's "
        f"bus lane enforcement cameras. I make this statement from my review of the recordings listed below as "
        f"exhibits, which I carried out {when_reviewed} using the council's review system, signed in as {officer}.",
        f"Camera {row['camera_id']} is a fixed CCTV camera at {row['location'] or facts.metadata['camera']['location']}. "
        f"It records the bus lane continuously; every frame of its recording is numbered, and its date and time are "
        f"shown in the review copy.",
        f"The recording shows a {row['vehicle_class']} entering the bus lane on {entered:%A %d %B %Y} at "
        f"{facts.clock(case.first_frame)} (frame {case.first_frame} of the recording) and leaving it at "
        f"{facts.clock(case.last_frame)} (frame {case.last_frame}). It was in the bus lane for "
        f"{passage['seconds_in_lane']:.1f} seconds and travelled along it while it was there.",
        f"At that time the bus lane was in force ({passage['in_force'] or '[hours in force]'}). Its hours of operation "
        f"are: {facts.hours_text()}. The vehicle was not one of the classes permitted to use the lane "
        f"({', '.join(facts.metadata['lane_rules']['exempt_classes']) or 'none'}). [Describe the signs and road markings.]",
        plate + corrections,
        f"Check against the council's list of permitted vehicles: {facts.whitelist_text()}.",
        f"Having watched the recording I was satisfied that a contravention had occurred and I validated the case "
        f"{'at ' + facts.local(v.at) if v else '[when]'}.",
        f"I produce the {len(exhibits)} files listed below as exhibits. They are in evidence pack {header.pack_id} "
        f"with a list of their SHA-256 hashes, by which anyone can check that they have not been altered.",
    ]
