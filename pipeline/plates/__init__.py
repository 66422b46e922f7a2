"""Plate reading: find plates at vehicle scale, OCR them, apply UK format rules, vote across frames.

>>> reader = PlateReader.from_models()  # doctest: +SKIP
>>> reads = reader.read_vehicle(frame_bgr, vehicle_box_xyxy, frame_index=i)  # doctest: +SKIP
>>> vote(all_reads_of_one_vehicle).status  # doctest: +SKIP
'read'
"""

from pipeline.plates.reader import PlateReader, ReaderSettings
from pipeline.plates.types import Alternative, PlateRead, PlateResult
from pipeline.plates.uk_formats import classify
from pipeline.plates.voting import vote

__all__ = ["Alternative", "PlateRead", "PlateReader", "PlateResult", "ReaderSettings", "classify", "vote"]
