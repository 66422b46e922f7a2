"""buslane batch pipeline: footage → detections and tracks → lane rules → plates → store."""

__version__ = "0.1.0"
