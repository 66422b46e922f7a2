"""Where footage files are analysed: in this process, in a pool of worker processes, or on Ray.

Every engine yields FileResults back to the caller, the one process that writes the database;
workers never open it. Whatever goes wrong with one file comes back as that file's failed result,
so one file never stops the others. Only the site's models failing to load stops the batch
(ModelError): every file would fail the same way.

Worker processes end with the batch: each asks the kernel to kill it when the batch process dies
(PR_SET_PDEATHSIG, which holds even for SIGKILL), and a batch that stops early (an error, Ctrl-C)
kills its workers rather than waiting for their files to finish.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path

import numpy as np

from pipeline.analysis import Analyser, FileResult
from pipeline.detection import load_detector
from pipeline.models import ModelError, resolve_model
from pipeline.site import SiteConfig

log = logging.getLogger(__name__)

Job = tuple[Path, str]  # (footage path, sha256)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_worker: Analyser | None = None
_worker_site: SiteConfig | None = None


def _sized(site: SiteConfig, threads: int) -> SiteConfig:
    """The site as one worker among several runs it: no more inferences at once than its share of cores."""
    d = site.detection
    return site.model_copy(update={"detection": d.model_copy(update={"parallel_inferences": min(d.parallel_inferences, threads)})})


def check_models(site: SiteConfig) -> None:
    """Every model setting names a usable model, before any footage is read; errors name the setting."""
    for name, value in site.model_settings().items():
        try:
            resolve_model(value)
        except ModelError as e:
            raise ModelError(f"{name}: {e}") from None


def load_analyser(site: SiteConfig, progress: bool = False) -> Analyser:
    """The site's models loaded; a model that will not load is a ModelError naming its setting."""
    d, p = site.detection, site.plates
    try:
        detector = load_detector(resolve_model(d.model), d.confidence, d.imgsz, d.parallel_inferences)
        detector.detect([np.zeros((d.imgsz, d.imgsz, 3), np.uint8)])  # ultralytics loads a model on its first use
    except Exception as e:  # noqa: BLE001 - any loader's error means the same: this setting is wrong
        raise ModelError(f"detection.model {d.model!r}: cannot be loaded ({one_line(e)})") from e
    try:
        return Analyser(site, detector=detector, progress=progress)
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"plates (detector {p.detector!r}, ocr {p.ocr!r}, ocr_config {p.ocr_config!r}): "
                         f"cannot be loaded ({one_line(e)})") from e


def analyse_file(analyser: Analyser, path: Path, sha: str, start: datetime | None) -> FileResult:
    """One file's result, a failed one whatever the exception, naming the file and the reason."""
    try:
        return analyser.analyse(path, sha, start)
    except Exception as e:  # noqa: BLE001 - one file must never stop the batch
        log.exception("%s: analysis failed", path)
        return FileResult(path, sha, "failed", error=f"{path}: analysis failed: {one_line(e)}")


def one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


def _die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the batch process dies (Linux), and leave now if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # died before the request was made
        os._exit(1)


def _init_worker(parent: int, site: SiteConfig, threads: int) -> None:
    global _worker_site
    _die_with_parent(parent)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _worker_site = _sized(site, threads)


def _analyse_in_worker(path: Path, sha: str, start: datetime | None) -> FileResult:
    global _worker
    if _worker is None:  # loaded with the first file, so a model that will not load reaches the batch as ModelError
        _worker = load_analyser(_worker_site)
    return analyse_file(_worker, path, sha, start)


def run_local(site: SiteConfig, jobs: list[Job], start: datetime | None, workers: int, progress: bool) -> Iterator[FileResult]:
    """One worker analyses in this process (with a frame progress bar); more use a process pool."""
    if workers <= 1 or len(jobs) <= 1:
        analyser = load_analyser(site, progress=progress)
        for path, sha in jobs:
            yield analyse_file(analyser, path, sha, start)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(os.getpid(), site, threads))
    finished = False
    try:
        futures = {pool.submit(_analyse_in_worker, path, sha, start): (path, sha) for path, sha in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool as e:  # a worker was killed (out of memory, a signal): its files fail
                path, sha = futures[future]
                yield FileResult(path, sha, "failed", error=f"{path}: the worker analysing it died ({one_line(e)})")
        finished = True
    finally:
        if not finished:  # stopped early: kill the workers rather than wait for their files
            pool.shutdown(wait=False, cancel_futures=True)
            for child in multiprocessing.active_children():
                child.kill()
        pool.shutdown(wait=True)


def run_ray(site: SiteConfig, jobs: list[Job], start: datetime | None, address: str | None) -> Iterator[FileResult]:
    """Spread files over a Ray cluster (`address` None starts a local instance)."""
    import ray

    if address is None:  # a local instance, sized for this machine
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, object_store_memory=256 * 2**20,
                 ignore_reinit_error=True, log_to_driver=False)
    else:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)

    @ray.remote(num_cpus=1)
    class Worker:
        def __init__(self, site: SiteConfig):
            self.analyser = load_analyser(_sized(site, 1))  # each actor holds one CPU

        def analyse(self, path: Path, sha: str, start: datetime | None) -> FileResult:
            return analyse_file(self.analyser, path, sha, start)

    count = max(1, min(len(jobs), int(ray.available_resources().get("CPU", 1))))
    pool = ray.util.ActorPool([Worker.remote(site) for _ in range(count)])
    yield from pool.map_unordered(lambda worker, job: worker.analyse.remote(job[0], job[1], start), jobs)


def engine_results(engine: str, site: SiteConfig, jobs: Iterable[Job], start: datetime | None, *,
                   workers: int, address: str | None, progress: bool) -> Iterator[FileResult]:
    """A generator: closing it early (the batch stopped) closes the engine's, which ends its workers."""
    jobs = list(jobs)
    if not jobs:
        return
    if engine == "ray":
        yield from run_ray(site, jobs, start, address)
    else:
        yield from run_local(site, jobs, start, workers, progress)
