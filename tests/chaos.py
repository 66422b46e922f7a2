"""`make chaos`: kill -9 a real 3-file batch at random points, re-run it, and check nothing was lost.

Each trial starts from an empty database and evidence folder, starts `buslane process` on three real
clips (JamCam 1 stream-copied three times with different bytes), sends SIGKILL to the batch and its
workers at a random moment of a clean run's length, then runs the same command to the end. After the
re-run it checks against the clean run: every file recorded once as processed, the same passages and
contraventions with no duplicate, every contravention with evidence that verifies, and the audit
chain intact. It prints the figures and exits non-zero on any loss, duplicate or missing evidence.

    python -m tests.chaos --kills 20      # about 45 minutes on 2 cores (a clean run is about 1.5 minutes)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import duckdb

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "footage" / "jamcam_1_cromwell_rd_earls_court_rd.mp4"
SITE = ROOT / "tests" / "labels" / "sites" / "jamcam_1.yaml"
START = "2026-11-20T08:15:00"


def copies(folder: Path, n: int = 3) -> list[Path]:
    """n stream copies of the clip whose bytes differ (a title each), so each is its own footage file."""
    paths = []
    for i in range(n):
        out = folder / f"cam_{i}.mp4"
        with av.open(str(CLIP)) as src, av.open(str(out), "w", options={"movflags": "faststart"}) as dst:
            dst.metadata["title"] = f"chaos copy {i}"
            stream = src.streams.video[0]
            copy = dst.add_stream_from_template(stream)
            for packet in src.demux(stream):
                if packet.dts is None:
                    continue
                packet.stream = copy
                dst.mux(packet)
        paths.append(out)
    return paths


def command(db: Path, evidence: Path, files: list[Path]) -> list[str]:
    return [sys.executable, "-m", "pipeline", "process", str(SITE), *map(str, files), "--db", str(db),
            "--evidence", str(evidence), "--start", START, "--no-progress"]


def run(cmd: list[str], kill_after: float | None = None) -> tuple[int, float]:
    """Run to the end, or SIGKILL the whole process group after kill_after seconds."""
    began = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, time.monotonic() - began


def state(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        def ids(sql: str) -> list[str]:
            return [r[0] for r in con.execute(sql).fetchall()]
        return {
            "files": ids("SELECT id FROM footage_files WHERE status = 'processed'"),
            "passages": ids("SELECT id FROM lane_passages"),
            "contraventions": ids("SELECT id FROM contraventions"),
        }


def verified(db: Path, evidence: Path) -> tuple[bool, bool]:
    """(every contravention's evidence verifies, the audit chain is intact)."""
    ev = subprocess.run([sys.executable, "-m", "pipeline", "evidence", "verify", "--all", "--db", str(db)],
                        cwd=ROOT, capture_output=True, text=True)
    chain = subprocess.run([sys.executable, "-m", "pipeline", "audit", "verify", "--db", str(db)],
                           cwd=ROOT, capture_output=True, text=True)
    return ev.returncode == 0, chain.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="buslane-chaos-"))
    try:
        files = copies(work)
        clean_db, clean_ev = work / "clean.duckdb", work / "clean-evidence"
        code, clean_seconds = run(command(clean_db, clean_ev, files))
        if code != 0:
            print(f"the clean run failed (exit {code})")
            return 2
        clean = state(clean_db)
        print(f"clean run: {clean_seconds:.0f} s, {len(clean['files'])} files, {len(clean['passages'])} passages, "
              f"{len(clean['contraventions'])} contraventions")
        lost = duplicated = unverified = broken = 0
        for trial in range(args.kills):
            db, evidence = work / f"t{trial}.duckdb", work / f"t{trial}-evidence"
            when = rng.uniform(0.5, clean_seconds)
            run(command(db, evidence, files), kill_after=when)
            code, _ = run(command(db, evidence, files))
            got = state(db)
            t_lost = sum(len(set(clean[k]) - set(got[k])) for k in clean)
            t_dup = sum(len(got[k]) - len(set(got[k])) for k in got)
            ev_ok, chain_ok = verified(db, evidence)
            lost, duplicated = lost + t_lost, duplicated + t_dup
            unverified += not ev_ok
            broken += not chain_ok
            print(f"kill {trial + 1:2d} at {when:5.1f} s: re-run exit {code}, lost {t_lost}, duplicated {t_dup}, "
                  f"evidence {'verified' if ev_ok else 'NOT VERIFIED'}, chain {'intact' if chain_ok else 'BROKEN'}")
            db.unlink(missing_ok=True)
            shutil.rmtree(evidence, ignore_errors=True)
        print(f"{args.kills} kills: {lost} lost, {duplicated} duplicated, {unverified} re-runs with evidence "
              f"missing or unverified, {broken} with a broken chain")
        return 0 if lost == duplicated == unverified == broken == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
