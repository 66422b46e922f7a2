"""Plate-reading benchmark: prints figures, it is not a test.

    python -m pipeline.plates.bench          # or: make bench-plates (about 9 minutes on a quiet 2-core machine)
    python -m pipeline.plates.bench --limit 20 --no-ladder --no-video   # a quick look

For every photo set in ../shared/data/plates it reports exact-match accuracy and milliseconds per
image for `PlateReader` and, in the same run, for the baseline recipe (plate detector at 320 px
on the whole image, the OCR on each crop, no format rules) and for the OCR alone on each photo's
labelled plate box (what the OCR model reads when the plate is found exactly). As in
shared/data/SOURCES.md, a photo counts as read when any read matches its label. Then the same on
the small-plate ladder (`ladder.degrade`), and the voted plate of each tracked vehicle in the
Hangzhou clip against the plates read by eye.

Accuracy is printed against the sets' own labels and against the labels with the corrections in
`LABEL_FIXES`, which were judged by eye from the images and are listed at the end of the report:
they are never used to tune the reader.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import typer

from pipeline.models import PROJECT_ROOT, resolve_model
from pipeline.plates.detector import YoloPlateDetector
from pipeline.plates.ladder import WIDTHS, Degradation, degrade, seed_for
from pipeline.plates.ocr import FastPlateOCR, PlateOCR
from pipeline.plates.reader import PlateReader
from pipeline.plates.uk_formats import clean
from pipeline.plates.vehicles import YoloVehicleFinder
from pipeline.plates.voting import vote

SHARED = PROJECT_ROOT.parent / "shared"
PLATE_SETS = SHARED / "data" / "plates"
HANGZHOU = SHARED / "data" / "footage" / "hangzhou_fixed_cctv_720p.mp4"

# (set, image) -> (what the plate shows, why the source label is wrong).
LABEL_FIXES: dict[tuple[str, str], tuple[str, str]] = {
    ("openalpr_eu", "eu5.jpg"): ("OY09FEU", "UK current plate OY09 FEU: age identifier 09, digit zero"),
    ("openalpr_eu", "test_006.jpg"): ("RK099AN", "Slovak RK-099AN: three digits follow the district"),
    ("openalpr_eu", "test_024.jpg"): ("RK026AJ", "Slovak RK-026AJ: three digits follow the district"),
    ("openalpr_eu", "test_056.jpg"): ("RK300AG", "Slovak RK-300AG: three digits follow the district"),
    ("mixed_uk_eu", "BTIIAHV.jpg"): ("BT11AHV", "UK current plate BT11 AHV: age identifier 11"),
    ("mixed_uk_eu", "OVI4VLL.jpg"): ("OV14VLL", "UK current plate OV14 VLL: age identifier 14"),
    ("mixed_uk_eu", "RLO4XVM.jpg"): ("RL04XVM", "UK current plate RL04 XVM: age identifier 04"),
    ("mixed_uk_eu", "XIIUME.jpg"): ("X11UME", "UK prefix plate X11 UME: the number is 11"),
    ("mixed_uk_eu", "25810X.jpg"): ("2581DX", "Ontario plate 258 1DX: the fifth character is a D"),
}

# Photos whose plate is British (UK font, white front or yellow rear plate), checked by eye.
_UK_MIXED = "BTIIAHV GN64OTP GPG HF58HXP L328DFP M5CEU OVI4VLL RLO4XVM T248VEB W326AVE XIIUME".split()
UK_PHOTOS = {("openalpr_eu", "eu5.jpg")} | {("mixed_uk_eu", f"{name}.jpg") for name in _UK_MIXED}

# Plates in the Hangzhou clip read by eye (Latin part; the OCR cannot produce the province sign).
HANGZHOU_PLATES = ("AR606L", "AE670S", "APH188", "A8254S")


# A reader under test: image and the labelled plate box (x1, y1, x2, y2) at the image's scale in,
# plate texts out. Only the OCR-alone row looks at the box.
ReadTexts = Callable[[np.ndarray, tuple[int, int, int, int]], list[str]]


@dataclass(frozen=True)
class Photo:
    set_name: str
    image: str
    label: str
    box: tuple[float, float, float, float]  # the labelled plate: x, y, w, h in the photo's pixels

    @property
    def plate_width(self) -> float:
        return self.box[2]

    def box_at(self, scale: float) -> tuple[int, int, int, int]:
        """The labelled box (x1, y1, x2, y2) in the photo rescaled by `scale`, whole pixels."""
        x, y, w, h = (v * scale for v in self.box)
        return int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h))

    @property
    def truth(self) -> str:
        return LABEL_FIXES.get((self.set_name, self.image), (self.label, ""))[0]


class BaselineReader:
    """The baseline recipe: detector at 320 px on the whole image, OCR each crop, nothing else."""

    def __init__(self, detector: YoloPlateDetector, ocr: PlateOCR):
        self.detector, self.ocr = detector, ocr

    def read_texts(self, image_bgr: np.ndarray) -> list[str]:
        boxes = self.detector.detect(image_bgr).xyxy.astype(int).clip(0)
        crops = [image_bgr[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes]
        crops = [cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c in crops if c.size]
        return [r.text for r in self.ocr.read(crops)]


@dataclass
class Tally:
    photos: int = 0
    source: int = 0  # matches the set's own label
    seconds: float = 0.0
    read: set[str] = field(default_factory=set)  # images whose label after LABEL_FIXES was read
    misses: list[str] = field(default_factory=list)  # "image label: reads" for the others

    def add(self, photo: Photo, texts: list[str], seconds: float) -> None:
        texts = [clean(t) for t in texts]
        self.photos += 1
        self.source += photo.label in texts
        self.seconds += seconds
        if photo.truth in texts:
            self.read.add(photo.image)
        else:
            self.misses.append(f"{photo.image} {photo.truth}: {' '.join(texts) or '-'}")

    def cells(self, full_size: Tally | None) -> str:
        """source and fixed accuracy, ms per image, and (on the ladder) the share of the photos
        read at full size that are still read: the loss due to size alone."""
        n = max(self.photos, 1)
        kept = f"{len(self.read & full_size.read) / max(len(full_size.read), 1):7.1%}" if full_size else ""
        return f"{self.source / n:7.1%} {len(self.read) / n:7.1%} {kept}{1000 * self.seconds / n:7.0f}"


def load_photos(root: Path, limit: int = 0) -> dict[str, list[Photo]]:
    sets = {}
    for folder in sorted(p for p in root.iterdir() if (p / "labels.csv").is_file()):
        with open(folder / "labels.csv", newline="") as f:
            rows = list(csv.DictReader(f))[: limit or None]
        sets[folder.name] = [
            Photo(folder.name, r["image"], clean(r["plate"]), tuple(float(r[k]) for k in "xywh")) for r in rows
        ]
    return sets


def run_photos(
    sets: dict[str, list[Photo]], root: Path, readers: dict[str, ReadTexts], width: int | None
) -> dict[tuple[str, str], Tally]:
    """Tallies per (set, reader) on the photos as they are (`width` None) or at one ladder rung."""
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for set_name, photos in sets.items():
        for photo in photos:
            image = cv2.imread(str(root / set_name / photo.image))
            if width:
                image = degrade(image, photo.plate_width, width, seed_for(f"{set_name}/{photo.image}", width))
            box = photo.box_at(width / photo.plate_width if width else 1.0)
            for name, read in readers.items():
                start = time.perf_counter()
                texts = read(image, box)
                seconds = time.perf_counter() - start
                tallies[set_name, name].add(photo, texts, seconds)
                if (set_name, photo.image) in UK_PHOTOS:
                    tallies["UK photos", name].add(photo, texts, seconds)
    return tallies


def _rgb_crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return cv2.cvtColor(image[max(y1, 0) : y2, max(x1, 0) : x2], cv2.COLOR_BGR2RGB)


def print_tallies(
    title: str,
    tallies: dict[tuple[str, str], Tally],
    readers: list[str],
    misses: bool,
    full_size: dict[tuple[str, str], Tally] | None = None,
) -> None:
    header = "source   fixed    kept  ms/img" if full_size else "source   fixed  ms/img"
    width = len(header) + 12
    print(f"\n{title}")
    print(f"{'set':<13}{'n':>4}  " + "  ".join(f"{r + ': ' + header:>{width}}" for r in readers))
    for set_name in sorted(dict.fromkeys(s for s, _ in tallies), key=lambda s: s == "UK photos"):
        n = tallies[set_name, readers[0]].photos
        cells = [tallies[set_name, r].cells(full_size[set_name, r] if full_size else None) for r in readers]
        print(f"{set_name:<13}{n:>4}  " + "  ".join(f"{c:>{width}}" for c in cells))
    for (set_name, reader), tally in tallies.items():
        if misses and set_name != "UK photos":
            print(f"  {reader} missed in {set_name}: " + "; ".join(tally.misses))


def track_frames(footage: Path, vehicle_model: Path) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(frame index, frame, track ids, boxes) for each frame, tracking cars, buses and trucks."""
    from ultralytics import YOLO

    model = YOLO(str(vehicle_model), task="detect")
    capture = cv2.VideoCapture(str(footage))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        boxes = model.track(frame, persist=True, classes=[2, 5, 7], conf=0.25, verbose=False)[0].boxes
        if boxes.id is not None:
            yield index, frame, boxes.id.numpy().astype(int), boxes.xyxy.numpy()
        index += 1
    capture.release()


def run_video(reader: PlateReader, footage: Path, read_every: int) -> None:
    reads = defaultdict(list)
    frames = defaultdict(list)
    plate_seconds = 0.0
    n_frames = 0
    for index, frame, ids, boxes in track_frames(footage, resolve_model("vehicle_detector")):
        n_frames = index + 1
        for track_id in ids:
            frames[track_id].append(index)
        if index % read_every:
            continue
        start = time.perf_counter()
        for track_id, found in zip(ids, reader.read_vehicles(frame, boxes, index)):
            reads[track_id] += found
        plate_seconds += time.perf_counter() - start
    print(f"\n{footage.name}: {n_frames} frames, plates read every {read_every} frame(s), "
          f"{1000 * plate_seconds / max(n_frames // read_every, 1):.0f} ms of plate reading per read frame")
    print("track    frames reads     voted agree  conf  status          alternatives")
    voted = {}
    for track_id in sorted(frames):
        result = vote(reads[track_id])
        voted[track_id] = result.plate
        others = ", ".join(f"{a.text}x{a.reads}" for a in result.alternatives[:4])
        span = f"{frames[track_id][0]}-{frames[track_id][-1]}"
        print(f"{track_id:>5} {span:>9} {result.total_reads:>5} {result.plate or '-':>9} {result.reads:>5} "
              f"{result.confidence:5.2f}  {result.status:<15} {others}")
    # The OCR reads the province sign as a Latin letter or not at all: compare the last 6.
    found = {p: [t for t, v in voted.items() if v[-6:] == p] for p in HANGZHOU_PLATES}
    for plate, tracks in found.items():
        print(f"  {plate}: {'read by vote on track ' + ', '.join(map(str, tracks)) if tracks else 'NOT read'}")
    print(f"  legible plates read correctly by vote: {sum(bool(t) for t in found.values())}/{len(found)}")


def main(
    data: Path = typer.Option(PLATE_SETS, help="Folder of photo sets, each with labels.csv."),
    footage: Path = typer.Option(HANGZHOU, help="Clip for the tracked-vehicle vote."),
    limit: int = typer.Option(0, help="Photos per set (0: all)."),
    ladder: bool = typer.Option(True, help="Run the small-plate ladder."),
    video: bool = typer.Option(True, help="Run the Hangzhou clip."),
    read_every: int = typer.Option(2, help="Clip: read plates on every n-th frame (tracking runs on all)."),
    misses: bool = typer.Option(False, help="List every photo a reader missed, with its reads."),
) -> None:
    """Print plate-reading accuracy and speed for PlateReader and the baseline recipe."""
    ocr = FastPlateOCR(resolve_model("plate_ocr"), resolve_model("plate_ocr_config"))
    vehicles = YoloVehicleFinder(resolve_model("vehicle_detector"))
    reader = PlateReader(YoloPlateDetector(resolve_model("plate_detector")), ocr, vehicles)  # OCR shared
    baseline = BaselineReader(YoloPlateDetector(resolve_model("plate_detector"), confidence=0.25), ocr)
    readers: dict[str, ReadTexts] = {
        "reader": lambda im, _: [r.text for r in reader.read_image(im)],
        "baseline": lambda im, _: baseline.read_texts(im),
        # The OCR alone on the labelled box, cut out once: what the OCR model can do when the
        # plate is found exactly (the reader may beat it, by voting shifted crops).
        "OCR alone": lambda im, box: [r.text for r in ocr.read([_rgb_crop(im, box)]) if r.text],
    }
    blank = np.zeros((720, 1280, 3), np.uint8)  # large enough for the vehicle-scale pass
    for read in readers.values():  # each runtime's first call costs seconds: keep it out of the timings
        read(blank, (0, 0, 128, 64))
    sets = load_photos(data, limit)
    print(f"accuracy = share of photos where any read matches: against the set's label ('source') "
          f"and with LABEL_FIXES ('fixed'); {', '.join(f'{k} {len(v)}' for k, v in sets.items())} photos")
    full_size = run_photos(sets, data, readers, None)
    print_tallies("photos as they are", full_size, list(readers), misses)
    if ladder:
        print(f"\nladder: {Degradation()}; 'kept': share of the photos read at full size still read")
        for width in WIDTHS:
            title = f"ladder: plate {width} px wide"
            print_tallies(title, run_photos(sets, data, readers, width), list(readers), misses, full_size)
    if video and footage.is_file():
        run_video(reader, footage, read_every)
    print("\nlabels judged wrong (image: label -> plate shown, why):")
    for (set_name, image), (shown, why) in LABEL_FIXES.items():
        label = next((p.label for p in sets.get(set_name, []) if p.image == image), "?")
        print(f"  {set_name}/{image}: {label} -> {shown}  ({why})")


if __name__ == "__main__":
    typer.run(main)
