"""Plate-reading benchmark: prints figures, it is not a test.

    python -m pipeline.plates.bench          # or: make bench-plates (about 15 minutes on a quiet 2-core machine)
    python -m pipeline.plates.bench --limit 20 --draws 1 --tune-draws 0 --no-video   # a quick look

Every photo of ../shared/data/plates is on the tuning or the validation side of `split.split_of`
(by plate); the two halves are reported apart, and only the validation half says how good a
reader is (thresholds and the fine-tuned OCR were set on the tuning half). For each it reports
exact-match accuracy, against the labels corrected in `LABEL_FIXES` (judged by eye, listed at the
end, never used to tune), of:

* `PlateReader` with each OCR: v2 (the default), v1, and the fine-tuned model when the manifest
  has `plate_ocr_finetuned`;
* the baseline recipe (plate detector at 320 px on the whole image, its v1 OCR on each crop, no
  format rules);
* the v2 OCR alone on each photo's labelled box (what the OCR reads when the plate is found exactly).

As in shared/data/SOURCES.md, a photo counts as read when any read matches its label. First the
photos as they are, then the small-plate ladder (`ladder.rung`: plates 110, 80, 60 and 45 px wide,
`--draws` degradations per photo and width, reported as the mean with its min-max over draws),
with the first, fixed ladder as one row, then the voted plate of each tracked vehicle in the
Hangzhou clip against the plates read by eye. All readers share one plate detector and vehicle
finder whose answers are remembered per image, so the readers after the first pay only for their OCR.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from statistics import mean
from pathlib import Path

import cv2
import numpy as np
import typer

from pipeline.models import PROJECT_ROOT, load_manifest, resolve_model
from pipeline.plates.detector import PlateBoxes, PlateDetector, YoloPlateDetector
from pipeline.plates.ladder import DRAWS, FIXED_WIDTHS, WIDTHS, fixed, rung, seed_for
from pipeline.plates.ocr import FastPlateOCR, PlateOCR
from pipeline.plates.reader import PlateReader
from pipeline.plates.split import SIDES, split_of
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
HALVES = {"validation": "validation half", "tune": "tune half (thresholds and the fine-tuned OCR were set on it)"}
# Photos as they are: the European and UK sets (the figures). The US set, two thirds of
# the photos, is left to the ladder, which keeps `make bench-plates` near a quarter of an hour.
FULL_SIZE_SETS = ("openalpr_eu", "mixed_uk_eu")
GROUPS = ("openalpr_eu", "openalpr_us", "mixed_uk_eu", "UK photos", "all")  # rows, in this order


# A reader under test: image and the labelled plate box (x1, y1, x2, y2) at the image's scale in,
# plate texts out. Only the OCR-alone row looks at the box.
ReadTexts = Callable[[np.ndarray, tuple[int, int, int, int]], list[str]]

# OCRs the readers are run with: label -> (model, config) in models/manifest.yaml.
OCRS = {"v2": ("plate_ocr_v2", "plate_ocr_v2_config"),  # named: `plate_ocr` is now the fine-tuned model
        "v1": ("plate_ocr_v1", "plate_ocr_v1_config")}
FINETUNED = ("plate_ocr_finetuned", "plate_ocr_finetuned_config")  # another session trains it


@dataclass(frozen=True)
class Photo:
    set_name: str
    image: str
    label: str
    box: tuple[float, float, float, float]  # the labelled plate: x, y, w, h in the photo's pixels

    @property
    def plate_width(self) -> float:
        return self.box[2]

    @property
    def name(self) -> str:
        return f"{self.set_name}/{self.image}"

    def box_at(self, scale: float) -> tuple[int, int, int, int]:
        """The labelled box (x1, y1, x2, y2) in the photo rescaled by `scale`, whole pixels."""
        x, y, w, h = (v * scale for v in self.box)
        return int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h))

    @property
    def truth(self) -> str:
        return LABEL_FIXES.get((self.set_name, self.image), (self.label, ""))[0]

    @property
    def side(self) -> str:
        return split_of(self.truth)

    @property
    def groups(self) -> tuple[str, ...]:
        """The rows this photo counts in: its set, the UK photos, all photos."""
        uk = ("UK photos",) if (self.set_name, self.image) in UK_PHOTOS else ()
        return (self.set_name, *uk, "all")


class Remembered:
    """A plate detector or vehicle finder that remembers its answers for the last images it saw:
    every reader under test asks the same questions about the same image, and only the first pays."""

    def __init__(self, model: object, size: int = 64):
        self._model, self._size, self._answers = model, size, {}

    def _ask(self, method: str, image: np.ndarray):
        key = (method, image.shape, hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).digest())
        if key not in self._answers:
            if len(self._answers) >= self._size:
                self._answers.pop(next(iter(self._answers)))  # the oldest
            self._answers[key] = getattr(self._model, method)(image)
        return self._answers[key]

    def detect(self, image_bgr: np.ndarray) -> PlateBoxes:
        return self._ask("detect", image_bgr)

    def find(self, image_bgr: np.ndarray) -> np.ndarray:
        return self._ask("find", image_bgr)


class BaselineReader:
    """The baseline recipe: detector at 320 px on the whole image (boxes of at least `confidence`),
    OCR each crop, nothing else."""

    def __init__(self, detector: PlateDetector, ocr: PlateOCR, confidence: float = 0.25):
        self.detector, self.ocr, self.confidence = detector, ocr, confidence

    def read_texts(self, image_bgr: np.ndarray) -> list[str]:
        found = self.detector.detect(image_bgr)
        boxes = found.xyxy[found.confidence >= self.confidence].astype(int).clip(0)
        crops = [image_bgr[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes]
        crops = [cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c in crops if c.size]
        return [r.text for r in self.ocr.read(crops)]


@dataclass
class Tally:
    photos: int = 0
    read: int = 0
    misses: list[str] = field(default_factory=list)  # "image label: reads"

    def add(self, photo: Photo, texts: list[str]) -> None:
        texts = [clean(t) for t in texts]
        self.photos += 1
        if photo.truth in texts:
            self.read += 1
        else:
            self.misses.append(f"{photo.image} {photo.truth}: {' '.join(texts) or '-'}")

    @property
    def rate(self) -> float:
        return self.read / max(self.photos, 1)


# (side, group, reader, ladder, width, draw); ladder is "photo" (width 0), "ladder" or "fixed".
Key = tuple[str, str, str, str, int, int]


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
    photos: list[Photo],
    root: Path,
    readers: dict[str, ReadTexts],
    fixed_reader: str,
    draws: dict[str, int],
    ladder: bool = True,
) -> tuple[dict[Key, Tally], float]:
    """Each photo of `FULL_SIZE_SETS` as it is, then every photo on each ladder rung and draw
    (`draws` per side) and, on the validation side and for `fixed_reader` only, on the fixed
    ladder; returns the tallies and the first reader's seconds per photo as it is."""
    tallies: dict[Key, Tally] = defaultdict(Tally)
    first, seconds, timed = next(iter(readers)), 0.0, 0
    for photo in photos:
        image = cv2.imread(str(root / photo.set_name / photo.image))
        for name, read in readers.items() if photo.set_name in FULL_SIZE_SETS else ():
            start = time.perf_counter()
            texts = read(image, photo.box_at(1.0))
            if name == first:
                seconds, timed = seconds + time.perf_counter() - start, timed + 1
            _count(tallies, photo, name, texts, "photo", 0, 0)
        if not ladder:
            continue
        x, y, w, h = photo.box
        for width in WIDTHS:
            for draw in range(draws[photo.side]):
                small = rung(image, (x, y, x + w, y + h), width, photo.name, draw)
                x1, y1, x2, y2 = small.box
                box = int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2))  # as `Photo.box_at` rounds
                for name, read in readers.items():
                    _count(tallies, photo, name, read(small.image, box), "ladder", width, draw)
        for width in FIXED_WIDTHS if photo.side == "validation" else ():
            small = fixed(image, photo.plate_width, width, seed_for(photo.name, width))
            texts = readers[fixed_reader](small, photo.box_at(width / photo.plate_width))
            _count(tallies, photo, fixed_reader, texts, "fixed", width, 0)
    return tallies, seconds / max(timed, 1)


def _rgb_crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return cv2.cvtColor(image[max(y1, 0) : y2, max(x1, 0) : x2], cv2.COLOR_BGR2RGB)


def _count(tallies: dict[Key, Tally], photo: Photo, reader: str, texts: list[str], kind: str, width: int,
           draw: int) -> None:
    for group in photo.groups:
        tallies[photo.side, group, reader, kind, width, draw].add(photo, texts)


def print_photos(tallies: dict[Key, Tally], readers: list[str], side: str, misses: bool) -> None:
    groups = [g for g in GROUPS if (side, g, readers[0], "photo", 0, 0) in tallies]
    print(f"\nphotos as they are, {HALVES[side]}: % read exactly")
    print(f"{'set':<13}{'n':>4}" + "".join(f"{r:>16}" for r in readers))
    for group in groups:
        cells = [tallies[side, group, r, "photo", 0, 0] for r in readers]
        print(f"{group:<13}{cells[0].photos:>4}" + "".join(f"{c.rate:>16.1%}" for c in cells))
    if misses:
        for r in readers:
            print(f"  {r} missed: " + "; ".join(tallies[side, "all", r, "photo", 0, 0].misses))


def print_ladder(tallies: dict[Key, Tally], readers: list[str], side: str, draws: int, fixed_reader: str,
                 misses: bool) -> None:
    """Per width, each reader's mean and min-max over draws; the fixed ladder (validation side only)."""
    n = tallies[side, "all", readers[0], "ladder", WIDTHS[0], 0].photos
    print(f"\nladder, {HALVES[side]}, {n} photos: % read exactly, mean over {draws} draw(s) [min-max]")
    print(f"{'plate':<8}" + "".join(f"{r:>24}" for r in readers))
    for width in WIDTHS:
        cells = []
        for r in readers:
            rates = [tallies[side, "all", r, "ladder", width, d].rate for d in range(draws)]
            cells.append(f"{mean(rates):.1%} [{min(rates):.1%}-{max(rates):.1%}]")
        print(f"{width:>3} px  " + "".join(f"{c:>24}" for c in cells))
    if (side, "all", fixed_reader, "fixed", FIXED_WIDTHS[0], 0) in tallies:
        fixed_rates = [f"{w} px {tallies[side, 'all', fixed_reader, 'fixed', w, 0].rate:.1%}" for w in FIXED_WIDTHS]
        print(f"the first, fixed ladder (3 px blur, noise 4, JPEG 60), {fixed_reader}: " + ", ".join(fixed_rates))
    if misses:
        for r in readers:
            for width in WIDTHS:
                print(f"  {r} missed at {width} px, draw 0: "
                      + "; ".join(tallies[side, "all", r, "ladder", width, 0].misses))


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
    draws: int = typer.Option(DRAWS, min=1, help="Ladder: degradations drawn per validation photo and width."),
    tune_draws: int = typer.Option(1, min=0, help="Ladder: the same for the tune half (reported for reference); "
                                   "0 leaves the tune half out altogether."),
    ladder: bool = typer.Option(True, help="Run the small-plate ladder."),
    video: bool = typer.Option(True, help="Run the Hangzhou clip."),
    read_every: int = typer.Option(2, help="Clip: read plates on every n-th frame (tracking runs on all)."),
    misses: bool = typer.Option(False, help="List every photo a reader missed, with its reads."),
) -> None:
    """Print plate-reading accuracy for PlateReader with each OCR and the baseline recipe."""
    started = time.perf_counter()
    manifest = load_manifest()
    ocr_models = dict(OCRS)
    if FINETUNED[0] in manifest:  # its config is v2's unless it names its own
        ocr_models["fine-tuned"] = (FINETUNED[0], FINETUNED[1] if FINETUNED[1] in manifest else OCRS["v2"][1])
    ocrs = {label: FastPlateOCR(resolve_model(m), resolve_model(c)) for label, (m, c) in ocr_models.items()}
    detector = Remembered(YoloPlateDetector(resolve_model("plate_detector")))
    vehicles = Remembered(YoloVehicleFinder(resolve_model("vehicle_detector")))
    plate_readers = {f"reader {label}": PlateReader(detector, ocr, vehicles) for label, ocr in ocrs.items()}
    baseline = BaselineReader(detector, ocrs["v1"])
    readers: dict[str, ReadTexts] = {
        name: (lambda im, _, r=r: [p.text for p in r.read_image(im)]) for name, r in plate_readers.items()
    }
    readers["baseline"] = lambda im, _: baseline.read_texts(im)
    # The OCR alone on the labelled box, cut out once: what the OCR model can do when the plate is
    # found exactly (the reader may beat it, by voting shifted crops).
    readers["OCR alone v2"] = lambda im, box: [r.text for r in ocrs["v2"].read([_rgb_crop(im, box)]) if r.text]
    blank = np.zeros((720, 1280, 3), np.uint8)  # large enough for the vehicle-scale pass
    for read in readers.values():  # each runtime's first call costs seconds: keep it out of the timings
        read(blank, (0, 0, 128, 64))
    sets = load_photos(data, limit)
    photos = [p for ps in sets.values() for p in ps]
    sides = ("validation", "tune") if tune_draws else ("validation",)
    halves = {side: sum(p.side == side for p in photos) for side in SIDES}
    print(f"{', '.join(f'{k} {len(v)}' for k, v in sets.items())} photos; split by plate: "
          f"{', '.join(f'{side} {n}' for side, n in halves.items())}; OCRs: "
          + ", ".join(f"{label} {resolve_model(m).name}" for label, (m, _) in ocr_models.items()))
    per_side = {"validation": draws, "tune": tune_draws}
    tallies, seconds = run_photos([p for p in photos if p.side in sides], data, readers, "reader v2", per_side, ladder)
    names = list(readers)
    for side in sides:
        print_photos(tallies, names, side, misses)
        if ladder:
            print_ladder(tallies, names, side, per_side[side], "reader v2", misses)
    print(f"\nreader v2 on the photos as they are: {1000 * seconds:.0f} ms per photo (the other readers "
          "reuse its detections and pay only for their OCR)")
    cpu = time.process_time()
    print(f"CPU time so far: {cpu / 60:.1f} minutes")
    if video and footage.is_file():
        run_video(plate_readers["reader v2"], footage, read_every)
    print("\nlabels judged wrong (image: label -> plate shown, why):")
    for (set_name, image), (shown, why) in LABEL_FIXES.items():
        label = next((p.label for p in sets.get(set_name, []) if p.image == image), "?")
        print(f"  {set_name}/{image}: {label} -> {shown}  ({why})")
    print(f"\nbench-plates took {(time.perf_counter() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    typer.run(main)
