"""The council's Ed25519 key pair that signs evidence packs (with the `cryptography` library).

    buslane keys init [--dir var/keys]    # pack_signing_key.pem (mode 0600) + pack_signing_key.pub.pem

Each pack's manifest.json is signed with the private key (manifest.json.sig, the raw 64-byte
Ed25519 signature); the manifest lists every other file's sha256, so the signature covers the whole
pack. The council publishes the public key; every pack's README.txt prints it (PEM and fingerprint),
and anyone can check a pack offline against the published copy:

    buslane pack verify FILE.zip --public-key council_pack_key.pub.pem
    openssl pkeyutl -verify -pubin -inkey council_pack_key.pub.pem -rawin -in manifest.json -sigfile manifest.json.sig

The private key is found at $BUSLANE_SIGNING_KEY, else var/keys/pack_signing_key.pem; its public key
is the file beside it ending .pub.pem. The fingerprint is the sha256 of the public key's DER
(SubjectPublicKeyInfo): `openssl pkey -pubin -in KEY.pub.pem -outform DER | sha256sum` prints it too.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ENV = "BUSLANE_SIGNING_KEY"
DEFAULT_DIR = Path("var/keys")
PRIVATE_NAME = "pack_signing_key.pem"


class SigningKeyError(RuntimeError):
    """A key is missing, unreadable, of the wrong kind or too widely readable; the message names the file."""


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    fingerprint: str


def public_path(private: Path) -> Path:
    return private.with_name(private.name.removesuffix(".pem") + ".pub.pem")


def default_private_path() -> Path:
    return Path(os.environ.get(KEY_ENV) or DEFAULT_DIR / PRIVATE_NAME)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def init_keys(folder: Path) -> KeyPair:
    """Make a new key pair in `folder`; never overwrites a key (a council's packs are checked against it)."""
    private, public = folder / PRIVATE_NAME, public_path(folder / PRIVATE_NAME)
    for path in (private, public):
        if path.exists():
            raise SigningKeyError(f"{path} already exists: refusing to replace the council's key (packs already "
                                  "sent are checked against it); choose another --dir")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # O_EXCL: never follow or replace a file that appeared meanwhile; 0o600 from the start, not after a chmod.
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public.write_text(public_pem(key.public_key()))
    return KeyPair(private, public, fingerprint(key.public_key()))


def load_private_key(path: Path | None = None) -> Ed25519PrivateKey:
    path = path or default_private_path()
    if not path.exists():
        raise SigningKeyError(f"no pack signing key at {path}: a council's packs must be signed. Make the council's key "
                              f"once with `buslane keys init`, or set {KEY_ENV} to its private key file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SigningKeyError(f"{path} can be read by others (mode {mode:04o}): `chmod 600 {path}`, and consider "
                              "whether the key must be replaced")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise SigningKeyError(f"{path}: not a readable PEM private key ({e})") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as e:
        raise SigningKeyError(f"{path}: {e.strerror or e}") from e
    except ValueError as e:
        raise SigningKeyError(f"{path}: not a PEM public key ({e})") from e
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return key


def signature_ok(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


app = typer.Typer(help="The council's key pair that signs evidence packs.", no_args_is_help=True)


@app.command()
def init(
    folder: Annotated[Path, typer.Option("--dir", help="Where to write the key pair.")] = DEFAULT_DIR,
) -> None:
    """Make the council's Ed25519 key pair: the private key (owner-only) signs packs, the public key is published."""
    try:
        pair = init_keys(folder)
    except (SigningKeyError, OSError) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1)
    typer.echo(f"private key {pair.private} (mode 0600: keep it secret, back it up; packs are signed with it)")
    typer.echo(f"public key  {pair.public} (publish it, e.g. on the council's website, with its fingerprint)")
    typer.echo(f"fingerprint sha256 {pair.fingerprint}")
    if pair.private != default_private_path():
        typer.echo(f"`buslane pack` looks for {default_private_path()}: set {KEY_ENV}={pair.private}")
