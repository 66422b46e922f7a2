"""buslane batch pipeline: footage → detections and tracks → lane rules → plates → store."""

import os
import sys

__version__ = "0.1.0"

# `import openvino` also imports its model-conversion tools, whose telemetry sends an event to Google
# Analytics from a forked process on every import, unless a consent file in the user's home says no.
# A council's evidence system must not call out, and in the review app's threads the fork hung,
# leaving a process behind each time. buslane only runs converted models, so the tools are never
# loaded (openvino catches this ImportError; `ov.convert_model` is then absent).
sys.modules.setdefault("openvino.tools.ovc", None)
# ultralytics, likewise: without this it looks up two public DNS names on import, sends usage events
# to Google Analytics after predictions, and may pip-install a missing requirement ("AutoUpdate").
os.environ.setdefault("YOLO_OFFLINE", "1")
