"""Signed packs: the council's Ed25519 key (real `cryptography` signatures), checked offline against its
published public key. The pack is the one test_pack.py builds from the night's real batch (`packed`);
the session's key pair comes from conftest (`council_key_and_cli_officer`).
"""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import zipfile

import pytest

from evidence.keys import KEY_ENV, fingerprint, init_keys, load_private_key, public_pem
from evidence.pack.builder import PackError, build_pack
from evidence.pack.verify import verify_pack
from tests.test_pack import copy_night, packed, rewrite, run_cli  # noqa: F401 (packed is a fixture)
from review_app.services import decisions
from review_app.services.users import User


def test_keys_init_makes_an_owner_only_private_key_and_refuses_to_replace_it(tmp_path):
    code, out = run_cli("keys", "init", "--dir", tmp_path / "keys")
    private, public = tmp_path / "keys" / "pack_signing_key.pem", tmp_path / "keys" / "pack_signing_key.pub.pem"
    assert code == 0 and str(private) in out and str(public) in out, out
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_private_key(private)
    assert public.read_text() == public_pem(key.public_key())
    assert f"fingerprint sha256 {fingerprint(key.public_key())}" in out
    before = private.read_bytes()
    code, out = run_cli("keys", "init", "--dir", tmp_path / "keys")
    assert code == 1 and "already exists: refusing to replace" in out and private.read_bytes() == before


def test_a_private_key_others_can_read_is_refused(tmp_path):
    pair = init_keys(tmp_path)
    pair.private.chmod(0o644)
    with pytest.raises(Exception, match="can be read by others .mode 0644.: `chmod 600"):
        load_private_key(pair.private)


def test_the_untouched_pack_verifies_offline_against_the_published_key(packed, council_key_and_cli_officer):
    code, out = run_cli("pack", "verify", packed.result.path, "--public-key", council_key_and_cli_officer)
    assert code == 0 and out.startswith(f"OK pack {packed.result.pack_id}"), out
    assert f"signed by the key in {council_key_and_cli_officer}" in out
    readme = packed.member("README.txt").decode()
    assert council_key_and_cli_officer.read_text().strip() in readme  # the PEM, printed in full
    published = fingerprint(load_private_key().public_key())
    assert f"fingerprint (sha256 of the key's DER): {published}" in readme
    assert json.loads(packed.member("manifest.json"))["signature"]["public_key_sha256"] == published


def test_openssl_checks_the_signature_as_the_readme_says(packed, council_key_and_cli_officer, tmp_path):
    with zipfile.ZipFile(packed.result.path) as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / packed.case_id
    done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", council_key_and_cli_officer,
                           "-rawin", "-in", "manifest.json", "-sigfile", "manifest.json.sig"],
                          cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout, done.stdout + done.stderr


def consistently_rehashed(packed, target, signer=None):
    """Change the clip, then rewrite the manifest and SHA256SUMS to fit, as a forger would; the forger has no
    council key, so keeps the old signature or signs with `signer`, their own."""
    clip = bytearray(packed.member("original.mp4"))
    clip[len(clip) // 3] ^= 0xFF
    manifest = json.loads(packed.member("manifest.json"))
    for f in manifest["files"]:
        if f["path"] == "original.mp4":
            f["sha256"] = hashlib.sha256(clip).hexdigest()
    if signer is not None:
        manifest["signature"]["public_key_sha256"] = fingerprint(signer.public_key())
    forged = (json.dumps(manifest, indent=2) + "\n").encode()
    signature = signer.sign(forged) if signer is not None else packed.member("manifest.json.sig")
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in manifest["files"])
    sums += f"{hashlib.sha256(forged).hexdigest()}  manifest.json\n"
    sums += f"{hashlib.sha256(signature).hexdigest()}  manifest.json.sig\n"
    return rewrite(packed.result.path, target, {"original.mp4": bytes(clip), "manifest.json": forged,
                                                "manifest.json.sig": signature, "SHA256SUMS": sums.encode()})


def test_a_consistently_rehashed_pack_fails(packed, tmp_path):
    tampered = consistently_rehashed(packed, tmp_path / "rehashed.zip")
    result = verify_pack(tampered)
    assert not (result.altered or result.missing or result.added), result.lines()  # every hash agrees
    assert not result.ok and "signature of manifest.json does not verify" in result.problems[0], result.lines()
    code, out = run_cli("pack", "verify", tampered)
    assert code == 1 and out.startswith("FAILED"), out


def test_a_pack_resigned_with_another_key_fails_against_the_councils(packed, tmp_path, council_key_and_cli_officer):
    forger = init_keys(tmp_path / "forger")
    tampered = consistently_rehashed(packed, tmp_path / "resigned.zip", load_private_key(forger.private))
    result = verify_pack(tampered, public_key=council_key_and_cli_officer)
    assert not (result.altered or result.missing or result.added), result.lines()
    assert not result.ok and result.problems == (
        f"signed with key {forger.fingerprint}, not with the public key {council_key_and_cli_officer} "
        f"(fingerprint {fingerprint(load_private_key().public_key())})",), result.lines()


def test_the_wrong_public_key_fails(packed, tmp_path):
    other = init_keys(tmp_path / "other")
    code, out = run_cli("pack", "verify", packed.result.path, "--public-key", other.public)
    assert code == 1 and f"not with the public key {other.public}" in out, out


def test_without_a_key_no_pack_is_made(night, tmp_path, monkeypatch):
    store, root, (case_id, _) = copy_night(night, tmp_path / "copy")
    assert decisions.validate(store, case_id, User("jo", "officer"), plate="OY09FEU").ok
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "nowhere" / "key.pem"))
    with pytest.raises(PackError, match=r"no pack signing key at .*nowhere/key.pem: a council's packs must be signed"):
        build_pack(store, case_id, root, "jo", tmp_path / "pack.zip")
    assert not (tmp_path / "pack.zip").exists() and store.query("SELECT count(*) AS n FROM packs")[0]["n"] == 0


def test_an_unmapped_os_user_cannot_export_a_pack(night, tmp_path, monkeypatch):
    store, root, (case_id, _) = copy_night(night, tmp_path / "copy")
    assert decisions.validate(store, case_id, User("jo", "officer"), plate="OY09FEU").ok
    monkeypatch.setenv("BUSLANE_USERS", str(tmp_path / "users.yaml"))
    code, out = run_cli("pack", case_id, "--db", store.path, "--out", tmp_path / "pack.zip", "--root", root)
    assert code == 2 and "is not mapped to an officer" in out and "buslane users link NAME --os-user" in out, out
    assert not (tmp_path / "pack.zip").exists()
