"""The reasons an officer chooses from to reject a case, by code, in the order the officer sees them.

They live here, in the lowest stage, because more than one stage names them: the review app offers
them and records the code, the evidence pack states a rejection in these words, and the accuracy
report counts rejections by code. Lower stages never import higher ones, so the evidence pack reads
them from here, not from the review app.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    "permitted_not_whitelisted": "Permitted vehicle not on the whitelist",
    "whitelisted": "On the whitelist",
    "plate_unreadable": "Plate misread or unreadable",
    "not_driving_in_lane": "Not driving in the lane (e.g. turning left or entering premises)",
    "emergency_on_call": "Emergency vehicle on call",
    "outside_hours": "Outside hours",
    "signage_fault": "Signage or lining fault",
    "duplicate": "Duplicate",
    "other": "Other (note required)",
}
