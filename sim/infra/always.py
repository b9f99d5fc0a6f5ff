"""Invariants of services and databases, checked during a run (:mod:`sim.kernel.always`).

Bound when a component is built with checks on, so that with checks off its hot path is the
plain one:

- **a job finishes once** (:class:`CheckedJob`): a second :meth:`~sim.infra.job.Job.finish`
  of a job would answer its caller twice;
- **a continuation runs once**: a job's tracked continuation called a second time would count
  its pending continuations below zero;
- **a slot is released by the job that holds it** (:func:`check_instance`): an instance
  releasing a job it is not running (released twice, or never started) would hand its slot
  twice; its free slots stay within ``0..concurrency``;
- **a finished job never takes a slot**: a slot given to a job that already finished would be
  held by it forever;
- **a database's connections in use never go negative**: its free connections stay within
  ``0..pool`` (:func:`check_database`);
- **a version given to a commit is at least 1**: versions of a key start at 1, and a copy
  applying a change it received stores the version it was given — an older one than it holds
  is a reorder the consistency metrics count, but version 0 is one no owner commits. A version
  the database assigns is the next one by construction; a conditional write (a saga's step or
  compensation) decides its own and may move the row back: neither is checked.

Left out: the reads' versions (a read returns the row as committed, by construction), locks
(a write waits for the lock of its one key; deadlocks are not modelled).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.infra.job import Job

__all__ = ["CheckedJob", "check_database", "check_instance"]


def _where(job: Job) -> str:
    service = getattr(job.service, "name", "?")
    instance = job.instance.index if job.instance is not None else -1
    return f"service {service}/{instance}"


class CheckedJob(Job):
    """A :class:`~sim.infra.job.Job` that checks it finishes once and each continuation of
    it runs once."""

    __slots__ = ()

    def finish(self, outcome: int, value: Any = None) -> None:
        if self.finished:
            self.service.ctx.always.broken(
                _where(self), "-", "a job finishes once", "an unfinished job", "finished again"
            )
        Job.finish(self, outcome, value)

    def track(self, then: Callable[..., None]) -> Callable[..., None]:
        return self._once(Job.track(self, then))

    def _answer(self, then: Any) -> Any:
        return self._once(Job._answer(self, then))

    def _once(self, resumed: Callable[..., None]) -> Callable[..., None]:
        ran = [False]

        def once(*args: Any) -> None:
            if ran[0]:
                self.service.ctx.always.broken(
                    _where(self),
                    "-",
                    "a job's continuation runs once",
                    f"{self.pending} pending",
                    "a continuation called again",
                )
            ran[0] = True
            resumed(*args)

        return once


def check_instance(instance: Any) -> None:
    """Bind the checked slot handling on ``instance``."""
    always = instance.service.ctx.always
    cls = type(instance)
    plain_release, plain_start = cls.release, cls._start
    where = f"service {instance.service.name}/{instance.index}"

    def release(job: Job) -> None:
        if job not in instance.running:
            always.broken(
                where,
                "-",
                "a slot is released by the job that holds it",
                "a running job",
                "a job not running here (released twice, or never started)",
            )
        plain_release(instance, job)
        if not 0 <= instance.free <= instance.concurrency:
            always.broken(where, "-", "free slots", f"0..{instance.concurrency}", instance.free)

    def start(job: Job) -> None:
        if job.finished:
            always.broken(
                where, "-", "a finished job never takes a slot", "an unfinished job", "finished"
            )
        plain_start(instance, job)

    instance.release = release
    instance._start = start


def check_database(database: Any) -> None:
    """Bind the checked connection release and commit on ``database``."""
    always = database.ctx.always
    cls = type(database)
    plain_release, plain_commit = cls._release_connection, cls._commit_row
    where = f"database {database.name}"
    pool = database.profile.pool

    def release_connection() -> None:
        plain_release(database)
        if not 0 <= database.free <= pool:
            always.broken(where, "-", "free connections", f"0..{pool}", database.free)

    def commit_row(query: Any) -> int:
        version = plain_commit(database, query)
        if isinstance(query.version, int) and version < 1:
            always.broken(
                where, query.key, "a version given to a commit is at least 1", ">= 1", version
            )
        return version

    database._release_connection = release_connection
    database._commit_row = commit_row
