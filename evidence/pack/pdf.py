"""case_summary.pdf: the case on A4 for an adjudicator: the facts and both stills on page 1, then the
plate read, lane rules, whitelist check, decision history, recording details and the file hashes.

reportlab rather than fpdf2: its platypus layout flows wrapped paragraphs, long tables (a history
of many decisions, the hash list) and images across pages, repeating table headers, with no manual
positioning, and its standard fonts need no font files shipped with the project.

>>> write_summary(Path("case_summary.pdf"), facts, header, folder, records)  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from evidence.manifest import FileRecord
from evidence.pack.facts import CaseFacts, alternatives_text
from evidence.pack.manifest import CHECKSUMS, MANIFEST, SUMMARY, PackHeader

MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN
_styles = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=_styles["BodyText"], fontSize=9.5, leading=12)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10)
LABEL = ParagraphStyle("label", parent=SMALL, fontName="Helvetica-Bold")
HASH = ParagraphStyle("hash", parent=SMALL, fontName="Courier", fontSize=7, leading=9)
TITLE = ParagraphStyle("title", parent=_styles["Title"], fontSize=16, leading=20, spaceAfter=2, alignment=0)
HEADING = ParagraphStyle("heading", parent=_styles["Heading2"], fontSize=12, leading=15, spaceBefore=10, spaceAfter=4)
GRID = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
HEADER_ROW = [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e4e4e4"))]


def write_summary(path: Path, facts: CaseFacts, header: PackHeader, folder: Path, files: list[FileRecord]) -> None:
    """Write the PDF. `folder` holds the stills; `files` are the pack's other files, with their hashes."""
    doc = SimpleDocTemplate(
        str(path), pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN + 4 * mm,
        title=f"Bus lane contravention {facts.id}: case summary", author=header.created_by,
        subject=f"Evidence pack {header.pack_id}", creator="buslane",
    )
    story = [
        *_first_page(facts, header, folder),
        *_plate(facts),
        *_lane_rules(facts),
        _heading("Whitelist check"), _p(facts.whitelist_text()),
        *_history(facts),
        *_recording(facts),
        *_hashes(files),
    ]
    doc.build(story, canvasmaker=_footer_canvas(f"Case {facts.id} - evidence pack {header.pack_id}"))


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text), style)


def _heading(text: str) -> Paragraph:
    return Paragraph(escape(text), HEADING)


def _table(rows: list[list[str]], widths: list[float], header: bool = False, style: ParagraphStyle = SMALL) -> Table:
    """Cells as wrapped paragraphs; a header row repeats when the table runs onto the next page."""
    cells = [[_p(c, LABEL if header and i == 0 else style) for c in row] for i, row in enumerate(rows)]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
    table.setStyle(TableStyle(GRID + (HEADER_ROW if header else [])))
    return table


def _facts_table(rows: list[tuple[str, str]]) -> Table:
    table = Table([[_p(k, LABEL), _p(v, SMALL)] for k, v in rows], colWidths=[38 * mm, WIDTH - 38 * mm])
    table.setStyle(TableStyle(GRID + [("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))]))
    return table


def _first_page(facts: CaseFacts, header: PackHeader, folder: Path) -> list[Flowable]:
    row, passage, case = facts.row, facts.passage, facts.case
    v = facts.validation
    entered = case.time_of(case.first_frame)
    rows = [
        ("Camera", row["camera_id"]),
        ("Location", row["location"] or facts.metadata["camera"]["location"]),
        ("Date", f"{entered:%A %d %B %Y} (times in {facts.tz.key}, with their offset from UTC)"),
        ("Entered the lane", facts.moment(case.first_frame)),
        ("Left the lane", facts.moment(case.last_frame)),
        ("Time in the lane", f"{passage['seconds_in_lane']:.2f} s ({passage['frames_in_lane']} frames at {case.fps:g} fps)"),
        ("Distance along the lane", facts.distance_text()),
        ("Vehicle", f"{row['vehicle_class']} (as classified by the vehicle detector)"),
        ("Registration mark", facts.plate_text()),
        ("Plate's country", facts.country_text()),
        ("Restriction", f"bus lane in force {passage['in_force'] or '(not recorded)'}; hours: {facts.hours_text()}"),
        ("Why it is a contravention", passage["reason"]),
        ("Whitelist", facts.whitelist_text()),
        # The "Decided" row of the deadlines already names a validation that was the first decision.
        *([] if v is not None and v == facts.first_decision
          else [("Decision", f"validated by {v.officer} at {facts.local(v.at)}" if v else row["status"])]),
        *facts.deadlines(),
    ]
    return [
        Paragraph("Bus lane contravention: case summary", TITLE),
        _p(f"Case {facts.id}", LABEL),
        _p(f"Evidence pack {header.pack_id}, made {facts.local(header.created_at)} by {header.created_by}.", SMALL),
        Spacer(1, 3 * mm),
        _facts_table(rows),
        Spacer(1, 3 * mm),
        _stills(facts, folder),
    ]


def _stills(facts: CaseFacts, folder: Path) -> Table:
    """Overview and close-up side by side, each with its caption; the data bars are part of the images."""
    files = facts.metadata["files"]
    column = WIDTH / 2 - 2 * mm
    images, captions = [], []
    for name, title in (("overview.png", "Overview"), ("plate.png", "Close-up")):
        info = files.get(name, {})
        image = Image(str(folder / name))
        image.drawWidth, image.drawHeight = column, column * image.imageHeight / image.imageWidth
        images.append(image)
        when = facts.moment(info["frame"]) if "frame" in info else ""
        what = info.get("label", title).capitalize() if name == "plate.png" else title
        captions.append(_p(f"{what} ({name}): {when}", SMALL))
    table = Table([images, captions], colWidths=[WIDTH / 2] * 2)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def _plate(facts: CaseFacts) -> list[Flowable]:
    p = facts.passage
    out: list[Flowable] = [_heading("Registration mark and how it was read")]
    if p["plate"] is None:
        out.append(_p("The plate reader read no registration mark from the footage"
                      + (f" (status: {p['plate_status']})." if p["plate_status"] else " (unreadable or not read).")))
    else:
        confidence = f"{p['plate_confidence']:.2f}" if p["plate_confidence"] is not None else "not recorded"
        chars = ", ".join(f"{c:.2f}" for c in p["plate_char_confidence"] or [])
        lines = [
            f"Read as {p['plate']} by the plate reader: confidence {confidence}, status {p['plate_status'] or '-'}, "
            f"UK format {p['plate_format'] or '-'}.",
            f"Supporting reads: {p['plate_reads'] if p['plate_reads'] is not None else 'not recorded'} frames agreed on this reading"
            + (f"; other candidates: {alts}." if (alts := alternatives_text(p["plate_alternatives"])) else "; no other candidates."),
        ]
        if chars:
            lines.append(f"Confidence per character: {chars}.")
        if p["plate_frame"] is not None:
            lines.append(f"Best read at {facts.moment(p['plate_frame'])}.")
        out += [_p(line) for line in lines]
    for c in facts.corrections:
        out.append(_p(f"Corrected by {c.officer} at {facts.local(c.at)}: {c.old or '(none)'} to {c.new} "
                      f"(UK format {c.format}; whitelist: {c.whitelist_result})."))
    out.append(_p(f"The case stands on the registration mark: {facts.plate_text()}.", LABEL))
    return out


def _lane_rules(facts: CaseFacts) -> list[Flowable]:
    rules, site = facts.metadata["lane_rules"], facts.metadata["site_config"]
    t = rules["thresholds"]
    distance = (f"{t['min_distance_m']:g} m" if t.get("min_distance_m") is not None
                else f"{t['min_distance_px']:g} px" if t.get("min_distance_px") is not None
                else f"{t['min_distance_share']:.0%} of the lane's drawn length")
    return [
        _heading("Lane rules and hours in force"),
        _p(f"Hours of operation: {facts.hours_text()}. In force at the time: {rules['in_force'] or 'not recorded'}."),
        _p(f"Exempt by sight: {', '.join(rules['exempt_classes']) or 'none'}. A passage is a contravention when the "
           f"vehicle is in the lane at least {t['min_seconds_in_lane']:g} s and travels at least "
           f"{distance} along it while the lane is in force."),
        _p(f"These are the rules the batch applied, from the site configuration {site['file']} "
           f"(sha256 {site['sha256']}), recorded in metadata.json."),
    ]


def _history(facts: CaseFacts) -> list[Flowable]:
    events: list[tuple[datetime, list[str]]] = [
        (d.at, [facts.local(d.at), d.officer, d.label, " - ".join(x for x in (d.reason, d.note) if x)])
        for d in facts.decisions
    ] + [
        (c.at, [facts.local(c.at), c.officer, "plate corrected",
                f"{c.old or '(none)'} to {c.new} ({c.format}); whitelist: {c.whitelist_result}"])
        for c in facts.corrections
    ]
    rows = [["When", "Officer", "Decision", "Reason, note or detail"]] + [r for _, r in sorted(events, key=lambda e: e[0])]
    return [_heading("Decision history"), _table(rows, [50 * mm, 25 * mm, 25 * mm, WIDTH - 100 * mm], header=True)]


def _recording(facts: CaseFacts) -> list[Flowable]:
    m, recordings = facts.metadata, facts.case.recordings
    models = "; ".join(f"{name} ({len(hashes)} file{'s' if len(hashes) != 1 else ''}, hashes in metadata.json)"
                       for name, hashes in m["models"].items())
    out = [_heading("Recording and evidence segment")]
    joined = len(recordings) > 1
    if joined:
        out.append(_p(f"The recorder split its recording into {len(recordings)} files and the vehicle's passage runs "
                      "across them, so it was joined into one: frame numbers here count from the first file's frame 0, "
                      "and each later file's frames from where its start time falls on that count."))
    for r in recordings:
        f = r.footage
        out.append(_p(f"Recording {r.path.name}: sha256 {f['id']}; starts {facts.local(f['start_time'], millis=True)}; "
                      f"{f['frames']} frames at {f['fps']:g} fps, {f['width']}x{f['height']}, {f['codec']}"
                      + (f"; its frame 0 is frame {r.offset} here." if joined else ".")))
    out += [
        _p("Each frame's time is its file's start time plus its frame number / fps."),
        *(_p(line) for line in facts.originals()),
        _p(f"review.mp4 shows {'the frames of every original in turn' if joined else 'the same frames'}, with the "
           "data bar, lane and vehicle outlined."),
        _p(f"Models: {models}. Software: buslane {m['software']['buslane']}."),
    ]
    return out


def _hashes(files: list[FileRecord]) -> list[Flowable]:
    rows = [["File", "Bytes", "SHA-256"]] + [[r.path, f"{r.bytes:,}", r.sha256] for r in files]
    return [
        _heading("Files in this pack"),
        _table(rows, [38 * mm, 20 * mm, WIDTH - 58 * mm], header=True, style=HASH),
        Spacer(1, 2 * mm),
        _p(f"This summary ({SUMMARY}) cannot list its own hash: it and {MANIFEST} are listed in {CHECKSUMS}, "
           "with every file above. README.txt says how to check them with standard tools.", SMALL),
    ]


def _footer_canvas(text: str) -> type[Canvas]:
    """A canvas that writes `text` and 'page n of N' on every page, once N is known."""

    class FooterCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self.setFont("Helvetica", 7.5)
                self.setFillColor(colors.grey)
                self.drawString(MARGIN, MARGIN - 2 * mm, text)
                self.drawRightString(A4[0] - MARGIN, MARGIN - 2 * mm, f"page {number} of {len(self._pages)}")
                super().showPage()
            super().save()

    return FooterCanvas
