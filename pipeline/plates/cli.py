"""The plate commands of the `buslane` CLI: `read-plates` and `bench-plates`.

`pipeline/cli.py` adds them with ``register(app)``.

    buslane read-plates car.jpg street.png --format json
"""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path

import cv2
import numpy as np
import typer

from pipeline.plates import bench
from pipeline.plates.reader import PlateReader
from pipeline.plates.types import PlateRead


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("read-plates")(read_plates)
    app.command("bench-plates")(bench.main)


def read_plates(
    images: list[Path] = typer.Argument(..., help="Still photos to read plates from."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="json: stdout carries only JSON."),
    plate_detector: str = typer.Option("plate_detector", help="Plate detector: manifest name or path."),
    plate_ocr: str = typer.Option("plate_ocr", help="Plate OCR ONNX model: manifest name or path."),
    plate_ocr_config: str = typer.Option("plate_ocr_config", help="Plate OCR config: manifest name or path."),
    vehicle_detector: str = typer.Option("vehicle_detector", help="Vehicle detector: manifest name or path."),
) -> None:
    """Read the plates in each image: text, confidence, UK format and box."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    _ultralytics_logs_to_stderr()
    reader = PlateReader.from_models(plate_detector, plate_ocr, plate_ocr_config, vehicle_detector)
    results, failed = [], False
    for path in images:
        image = _load(path)
        if image is None:
            # A bad file must not cost the other images their reads: report it and go on.
            error = f"cannot read image {path}: missing, unreadable or not an image"
            typer.echo(f"error: {error}", err=True)
            results.append({"image": str(path), "error": error, "plates": []})
            failed = True
            continue
        plates = [_plate_json(r) for r in reader.read_image(image)]
        results.append({"image": str(path), "plates": plates})
        if output is OutputFormat.text:
            _echo_text(str(path), plates)
    if output is OutputFormat.json:
        typer.echo(json.dumps(results, indent=2))
    if failed:
        raise typer.Exit(1)


def _load(path: Path) -> np.ndarray | None:
    """The image as BGR, or None when the file is missing or not an image (without OpenCV's
    own warning on standard error, which would not say which argument it was)."""
    try:
        return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    except (OSError, cv2.error):
        return None


def _plate_json(read: PlateRead) -> dict:
    return {
        "text": read.text,
        "confidence": read.confidence,
        "format": read.format,
        "box": list(read.box),
        "raw_text": read.raw_text,
        "char_confidence": list(read.char_confidence),
        "detector_confidence": read.detector_confidence,
        "country": read.country,
        "country_confidence": read.country_confidence,
    }


def _echo_text(image: str, plates: list[dict]) -> None:
    if not plates:
        typer.echo(f"{image}: no plate found")
    for p in plates:
        country = f"  {p['country']} {p['country_confidence']:.2f}" if p["country"] else ""
        typer.echo(f"{image}: {p['text']}  confidence {p['confidence']:.2f}  {p['format']}{country}  box {p['box']}")


def _ultralytics_logs_to_stderr() -> None:
    """Ultralytics logs model loading to stdout; JSON output needs stdout to itself."""
    from ultralytics.utils import LOGGER

    for handler in LOGGER.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
            handler.setStream(sys.stderr)
