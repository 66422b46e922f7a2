"""Where footage files are analysed: in this process, in a pool of worker processes, or on Ray.

Every engine yields FileResults back to the caller, the one process that writes the database;
workers never open it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

from pipeline.analysis import Analyser, FileResult
from pipeline.site import SiteConfig

Job = tuple[Path, str]  # (footage path, sha256)

_worker: Analyser | None = None


def _sized(site: SiteConfig, threads: int) -> SiteConfig:
    """The site as one worker among several runs it: no more inferences at once than its share of cores."""
    d = site.detection
    return site.model_copy(update={"detection": d.model_copy(update={"parallel_inferences": min(d.parallel_inferences, threads)})})


def _init_worker(site: SiteConfig, threads: int) -> None:
    global _worker
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _worker = Analyser(_sized(site, threads))


def _analyse_in_worker(path: Path, sha: str, start: datetime | None) -> FileResult:
    return _worker.analyse(path, sha, start)


def run_local(site: SiteConfig, jobs: list[Job], start: datetime | None, workers: int, progress: bool) -> Iterator[FileResult]:
    """One worker analyses in this process (with a frame progress bar); more use a process pool."""
    if workers <= 1 or len(jobs) <= 1:
        analyser = Analyser(site, progress=progress)
        for path, sha in jobs:
            yield analyser.analyse(path, sha, start)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(site, threads)) as pool:
        futures = [pool.submit(_analyse_in_worker, path, sha, start) for path, sha in jobs]
        for future in as_completed(futures):
            yield future.result()


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
            self.analyser = Analyser(_sized(site, 1))  # each actor holds one CPU

        def analyse(self, path: Path, sha: str, start: datetime | None) -> FileResult:
            return self.analyser.analyse(path, sha, start)

    count = max(1, min(len(jobs), int(ray.available_resources().get("CPU", 1))))
    pool = ray.util.ActorPool([Worker.remote(site) for _ in range(count)])
    yield from pool.map_unordered(lambda worker, job: worker.analyse.remote(job[0], job[1], start), jobs)


def engine_results(engine: str, site: SiteConfig, jobs: Iterable[Job], start: datetime | None, *,
                   workers: int, address: str | None, progress: bool) -> Iterator[FileResult]:
    jobs = list(jobs)
    if not jobs:
        return iter(())
    if engine == "ray":
        return run_ray(site, jobs, start, address)
    return run_local(site, jobs, start, workers, progress)
