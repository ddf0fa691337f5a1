"""Run a whole job: plan every shot, render its chunks on a pool of worker processes, merge each shot once
its chunks are done.

* ``local``: a process pool on this machine (``concurrent.futures``, spawned workers). A chunk that raises
  is retried up to ``retries`` times; a worker that dies breaks the pool, which is rebuilt and the chunks it
  held are retried.
* ``dask``: Dask distributed (``filmgan[farm]``): the scheduler at ``scheduler`` (tcp://HOST:PORT), or a
  ``LocalCluster`` of ``workers`` processes over loopback. Chunks are submitted with ``retries``; a merge is
  a task that depends on its shot's chunk futures; a lost worker's tasks are rescheduled by Dask.

Workers receive the job file's path and task ids, never pickled objects of ours from disk. Chunks already
complete and valid are no-ops, so re-running a job after a crash, a kill or a lost worker redoes only what
is missing or invalid. A shot whose planning, chunks or merge fail is reported failed; the others go on.
Progress goes to ``events(kind, data)``: ``planned`` (a shot's plan), ``chunk`` (a chunk result),
``retry`` (chunk id and error), ``merged`` (a merge result), ``failed`` (shot and error).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ConfigError, FilmganError, require
from .jobfile import EXECUTORS, Job
from .plan import ShotPlan, plan_shot
from .tasks import chunk_task, merge_task

Events = Callable[[str, dict], None]


@dataclass
class JobReport:
    """What a job run did."""

    plans: dict[str, ShotPlan] = field(default_factory=dict)
    chunks: list[dict] = field(default_factory=list)  # chunk results (rendered and skipped)
    merges: list[dict] = field(default_factory=list)
    failed: dict[str, dict] = field(default_factory=dict)  # shot -> {"error": message, "exit_code": code}
    retries: int = 0

    @property
    def rendered(self) -> int:
        return sum(not c["skipped"] for c in self.chunks)

    @property
    def skipped(self) -> int:
        return sum(c["skipped"] for c in self.chunks)

    def to_dict(self) -> dict:
        return {"shots": len(self.plans) + len([s for s in self.failed if s not in self.plans]), "chunks_rendered": self.rendered,
                "chunks_skipped": self.skipped, "retries": self.retries, "frames_rendered": sum(c["frames"] for c in self.chunks if not c["skipped"]),
                "merged": self.merges, "failed": self.failed}


def _error_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, FilmganError) else f"{exc.__class__.__name__}: {exc}"


def _fail(report: JobReport, events: Events, shot: str, exc: BaseException | str) -> None:
    """Record the first failure of ``shot`` (its message and the exit code its error type maps to)."""
    if shot in report.failed:
        return
    error = exc if isinstance(exc, str) else _error_text(exc)
    code = getattr(exc, "exit_code", 1)
    report.failed[shot] = {"error": error, "exit_code": code}
    events("failed", {"shot": shot, "error": error, "exit_code": code})


def plan_job(job: Job, report: JobReport, events: Events) -> None:
    """Plan every shot; a shot that cannot be planned (missing input, bad preset) fails alone."""
    for shot in job.shots:
        try:
            plan = plan_shot(job, shot)
        except FilmganError as exc:
            _fail(report, events, shot.name, exc)
            continue
        report.plans[shot.name] = plan
        events("planned", {"shot": shot.name, "chunks": len(plan.chunks), "frames": plan.end - plan.start})


def run_job(job: Job, executor: str | None = None, workers: int | None = None, scheduler: str | None = None,
            events: Events | None = None, retries: int | None = None) -> JobReport:
    """Plan, render and merge every shot of ``job`` with the chosen executor (defaults: the job's settings)."""
    executor = executor or job.settings.executor
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor '{executor}' ({', '.join(EXECUTORS)})")
    workers = workers or job.settings.workers
    retries = job.settings.retries if retries is None else retries
    events = events or (lambda kind, data: None)
    report = JobReport()
    plan_job(job, report, events)
    if report.plans:
        threads = max(1, (os.cpu_count() or 1) // workers)
        if executor == "local":
            _LocalRun(job, report, events, workers, retries, threads).run()
        else:
            _run_dask(job, report, events, workers, scheduler if scheduler is not None else job.settings.scheduler, retries, threads)
    return report


class _LocalRun:
    """The local executor's loop: chunks in a process pool, retries, merges as shots complete."""

    def __init__(self, job: Job, report: JobReport, events: Events, workers: int, retries: int, threads: int) -> None:
        self.job, self.report, self.events = job, report, events
        self.workers, self.retries, self.threads = workers, retries, threads
        self.pending: dict[cf.Future, tuple[str, str, int]] = {}  # future -> (kind, chunk id or shot, pool generation)
        self.attempts: dict[str, int] = {}
        self.left = {name: {c.id for c in plan.chunks} for name, plan in report.plans.items()}

    def _pool(self) -> cf.ProcessPoolExecutor:
        self.generation = getattr(self, "generation", 0) + 1
        return cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def _renew(self, generation: int) -> None:
        """Replace the pool after one of its workers died (once per broken pool)."""
        if generation == self.generation:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._pool()

    def run(self) -> None:
        self.pool = self._pool()
        try:
            for plan in self.report.plans.values():
                for chunk in plan.chunks:
                    self._submit("chunk", chunk.id)
            while self.pending:
                done, _ = cf.wait(self.pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    self._finished(future, *self.pending.pop(future))
        except BaseException:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            raise
        self.pool.shutdown(wait=True)

    def _submit(self, kind: str, what: str) -> None:
        path = str(self.job.path)
        args = (chunk_task, path, what, self.threads) if kind == "chunk" else (merge_task, path, what)
        try:
            future = self.pool.submit(*args)
        except cf.process.BrokenProcessPool:
            self._renew(self.generation)
            future = self.pool.submit(*args)
        self.pending[future] = (kind, what, self.generation)

    def _finished(self, future: cf.Future, kind: str, what: str, generation: int) -> None:
        shot = what.rpartition("@")[0] if kind == "chunk" else what
        try:
            result = future.result()
        except cf.process.BrokenProcessPool as exc:  # a worker died: everything the pool held is retried
            self._renew(generation)
            self._retry_or_fail(kind, what, shot, exc)
            return
        except Exception as exc:  # noqa: BLE001 -- reported per shot
            self._retry_or_fail(kind, what, shot, exc)
            return
        if kind == "merge":
            self.report.merges.append(result)
            self.events("merged", result)
            return
        self.report.chunks.append(result)
        self.events("chunk", result)
        self.left[shot].discard(what)
        if not self.left[shot] and shot not in self.report.failed:
            self._submit("merge", shot)

    def _retry_or_fail(self, kind: str, what: str, shot: str, exc: BaseException) -> None:
        self.attempts[what] = self.attempts.get(what, 0) + 1
        if shot not in self.report.failed and self.attempts[what] <= self.retries:
            self.report.retries += 1
            self.events("retry", {"task": what, "error": _error_text(exc)})
            self._submit(kind, what)
        else:
            _fail(self.report, self.events, shot, exc)


def _run_dask(job: Job, report: JobReport, events: Events, workers: int, scheduler: str, retries: int, threads: int) -> None:
    """Chunks and merges as Dask futures; merges depend on their shot's chunks."""
    import logging

    distributed = require("distributed", "farm")
    cluster = None
    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
    else:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                           silence_logs=logging.ERROR, host="127.0.0.1")
        client = distributed.Client(cluster)
    futures: dict[Any, tuple[str, str]] = {}
    try:
        path = str(job.path)
        for name, plan in report.plans.items():
            chunk_futures = []
            for chunk in plan.chunks:
                future = client.submit(chunk_task, path, chunk.id, threads, key=f"filmgan-chunk-{chunk.id}", retries=retries, pure=False)
                futures[future] = ("chunk", name)
                chunk_futures.append(future)
            merge = client.submit(merge_task, path, name, *chunk_futures, key=f"filmgan-merge-{name}", retries=retries, pure=False)
            futures[merge] = ("merge", name)
        for future in distributed.as_completed(list(futures)):
            kind, shot = futures[future]
            if future.status != "finished":
                _fail(report, events, shot, future.exception() if future.status == "error" else f"task {future.key} was {future.status}")
                continue
            result = future.result()
            (report.chunks if kind == "chunk" else report.merges).append(result)
            events("chunk" if kind == "chunk" else "merged", result)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
