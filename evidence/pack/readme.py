"""README.txt: what is in the pack, and how an adjudicator checks it offline with standard tools.

>>> print(readme_text(header, facts, ["original.mp4", "review.mp4"], public_pem(key.public_key())))  # doctest: +SKIP
Evidence pack for bus lane contravention SZ-BUSLANE-01-20160318-122126-T15
...
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from evidence.keys import fingerprint
from evidence.pack.facts import CaseFacts
from evidence.pack.manifest import CHECKSUMS, MANIFEST, README, SIGNATURE, STATEMENT, SUMMARY, PackHeader

# What each file is, for the list at the top; names not here (an original in another container) fall back to kind.
DESCRIPTIONS = {
    SUMMARY: "case summary: the facts, stills, plate read, lane rules, whitelist check, decision history, hashes",
    STATEMENT: "witness statement DRAFT for the reviewing officer to check and sign",
    "review.mp4": "review copy (H.264) with a data bar on every frame: date, time, camera, location, frame number",
    "overview.png": "still: the vehicle in the lane, with the data bar",
    "plate.png": "still: close-up of the plate (or of the vehicle when no plate was read), with the data bar",
    "metadata.json": "how the evidence was made: camera, site config and its sha256, lane rules, times, track, models",
    README: "this file",
    MANIFEST: "sha256 and size of every other file, the pack's id, the head of the council's history",
    SIGNATURE: "the council's Ed25519 signature of manifest.json",
    CHECKSUMS: "sha256 of every file, of manifest.json and of its signature, for `sha256sum -c`",
}
ORIGINAL = "the original footage segment: the recording's own packets, cut without re-encoding"


def readme_text(header: PackHeader, facts: CaseFacts, evidence_names: list[str], public_key_pem: str) -> str:
    folder = header.contravention_id
    names = [SUMMARY, STATEMENT, *evidence_names, README, MANIFEST, SIGNATURE, CHECKSUMS]
    key_sha = fingerprint(serialization.load_pem_public_key(public_key_pem.encode()))
    width = max(map(len, names)) + 2
    listing = "\n".join(f"  {n.ljust(width)}{DESCRIPTIONS.get(n, ORIGINAL)}" for n in names)
    originals = "\n".join(f"  {line}" for line in facts.originals())
    deadlines = facts.deadlines()
    label = max(len(k) for k, _ in deadlines) + 3
    dates = "\n".join(f"  {(k + ':').ljust(label)}{v}" for k, v in deadlines)
    return f"""\
Evidence pack for bus lane contravention {header.contravention_id}
Pack {header.pack_id}, made {header.created_at:%Y-%m-%d %H:%M:%S} UTC by {header.created_by}.

{dates}

Files (in the folder {folder}/)
{listing}

{originals}

Checking that no file has been altered
--------------------------------------
Every file's SHA-256 hash is listed in {CHECKSUMS} (and in {MANIFEST}, with its size). Unzip the
pack, open a terminal in the folder {folder}/ and run:

  Linux:    sha256sum -c {CHECKSUMS}
  macOS:    shasum -a 256 -c {CHECKSUMS}
  Windows:  certutil -hashfile {SUMMARY} SHA256
            (PowerShell: Get-FileHash -Algorithm SHA256 {SUMMARY})
            and compare each file's hash with its line in {CHECKSUMS}.

Every line should end in OK. A file that was changed, however slightly, fails; the list in
{MANIFEST} also shows any file that is missing or should not be there.

Checking that the council made it
---------------------------------
Someone able to change a file could also rewrite the lists, so {MANIFEST} is signed with the
council's Ed25519 key: {SIGNATURE}. The signature fails if any byte of {MANIFEST} (and so of any
file it lists) differs. Check it against the council's PUBLISHED public key, not only the copy
below (a forger would print their own). The key that signed this pack:

  fingerprint (sha256 of the key's DER): {key_sha}

{public_key_pem.rstrip()}

With the published key saved as council_pack_key.pub.pem, in the folder {folder}/:

  openssl pkey -pubin -in council_pack_key.pub.pem -outform DER | sha256sum     (the fingerprint above)
  openssl pkeyutl -verify -pubin -inkey council_pack_key.pub.pem -rawin -in {MANIFEST} -sigfile {SIGNATURE}

The second prints "Signature Verified Successfully" (OpenSSL 3). The council checks a whole pack with
`buslane pack verify FILE.zip --public-key KEY.pub.pem`, and with `--db DATABASE` also against the hash
it recorded for pack {header.pack_id} and the head of its decision history when the pack was made.
"""
