"""README.txt: what is in the pack, and how an adjudicator checks it offline with standard tools.

>>> print(readme_text(header, ["original.mp4", "review.mp4"]))  # doctest: +SKIP
Evidence pack for bus lane contravention SZ-BUSLANE-01-20160318-122126-T15
...
"""

from __future__ import annotations

from evidence.pack.manifest import CHECKSUMS, MANIFEST, README, STATEMENT, SUMMARY, PackHeader

# What each file is, for the list at the top; names not here (an original in another container) fall back to kind.
DESCRIPTIONS = {
    SUMMARY: "case summary: the facts, stills, plate read, lane rules, whitelist check, decision history, hashes",
    STATEMENT: "witness statement DRAFT for the reviewing officer to check and sign",
    "review.mp4": "review copy (H.264) with a data bar on every frame: date, time, camera, location, frame number",
    "overview.png": "still: the vehicle in the lane, with the data bar",
    "plate.png": "still: close-up of the plate (or of the vehicle when no plate was read), with the data bar",
    "metadata.json": "how the evidence was made: camera, site config and its sha256, lane rules, times, track, models",
    README: "this file",
    MANIFEST: "sha256 and size of every other file, and the pack's id",
    CHECKSUMS: "sha256 of every file and of manifest.json, for `sha256sum -c`",
}
ORIGINAL = "the original footage segment: the recording's own packets, cut without re-encoding"


def readme_text(header: PackHeader, evidence_names: list[str]) -> str:
    folder = header.contravention_id
    names = [SUMMARY, STATEMENT, *evidence_names, README, MANIFEST, CHECKSUMS]
    width = max(map(len, names)) + 2
    listing = "\n".join(f"  {n.ljust(width)}{DESCRIPTIONS.get(n, ORIGINAL)}" for n in names)
    return f"""\
Evidence pack for bus lane contravention {header.contravention_id}
Pack {header.pack_id}, made {header.created_at:%Y-%m-%d %H:%M:%S} UTC by {header.created_by}.

Files (in the folder {folder}/)
{listing}

Checking that no file has been altered
--------------------------------------
Every file's SHA-256 hash is listed in {CHECKSUMS} (and in {MANIFEST}, with its size). Unzip the
pack, open a terminal in the folder {folder}/ and run:

  Linux:    sha256sum -c {CHECKSUMS}
  macOS:    shasum -a 256 -c {CHECKSUMS}
  Windows:  certutil -hashfile original.mp4 SHA256
            (PowerShell: Get-FileHash -Algorithm SHA256 original.mp4)
            and compare each file's hash with its line in {CHECKSUMS}.

Every line should end in OK. A file that was changed, however slightly, fails; the list in
{MANIFEST} also shows any file that is missing or should not be there.

Someone able to change a file could also rewrite the lists. The council recorded the SHA-256 of
{MANIFEST} when it made this pack: ask it to confirm the hash recorded for pack {header.pack_id}
and compare it with the {MANIFEST} line in {CHECKSUMS}. The council checks a whole pack with
`buslane pack verify FILE.zip --db DATABASE`.
"""
