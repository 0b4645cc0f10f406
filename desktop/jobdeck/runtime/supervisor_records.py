"""The folder of supervisor records: one ``<job id>.json`` per supervised process job.

A record is the contract between the store's supervisor service
(:mod:`jobdeck.runtime.supervisor_service`, which writes how each program runs and ends)
and any later Jobdeck that watches it again. The folder's :attr:`SupervisorRecords.client`
is the app's connection to that service.
The folder is private to the user (0700), each record too (0600): it holds the program's
environment, channel token included. No Qt.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Mapping
from pathlib import Path

from .private_files import private_directory
from .supervisor import SupervisorRecord, read_record, write_record
from .supervisor_client import SupervisorClient

__all__ = ["SupervisorRecords", "drop_stale_records"]


class SupervisorRecords:
    """The private directory (0700) holding one ``<job id>.json`` record (0600) per
    supervised job.

    ``legacy`` directories are where earlier versions kept records: a record is still
    found (and removed) there, so a job left running across an upgrade is re-attached.
    New records always go to ``directory``.
    """

    def __init__(
        self, directory: str | os.PathLike[str], legacy: tuple[str | os.PathLike[str], ...] = ()
    ) -> None:
        self.directory = Path(directory)
        self.legacy = tuple(Path(d) for d in legacy)
        #: Every folder a record may be in, as strings (see :meth:`remove`).
        self._folders = tuple(os.fspath(d) + os.sep for d in (self.directory, *self.legacy))
        #: The connection to the supervisor service that writes these records.
        self.client = SupervisorClient(self.directory)

    def close(self) -> None:
        """Let go of the supervisor service (it exits once it has nothing to watch)."""
        self.client.close()

    def path(self, job_id: str) -> Path:
        """Where the record of ``job_id`` is (in a legacy directory if it is there)."""
        name = self._name(job_id)
        for directory in self.legacy:
            if (directory / name).exists():
                return directory / name
        return self.directory / name

    @staticmethod
    def _name(job_id: str) -> str:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise ValueError(f"not a usable job id for a record file name: {job_id!r}")
        return f"{job_id}.json"

    def create(self, record: SupervisorRecord) -> Path:
        """Write a new record (creating the directory private to the user); its path.
        Raises OSError (:class:`~jobdeck.runtime.private_files.UnsafePathError` when the
        directory cannot be made private)."""
        private_directory(self.directory)
        path = self.directory / self._name(record.job_id)
        write_record(path, record)
        return path

    def load(self, job_id: str) -> SupervisorRecord | None:
        """The record of ``job_id``; None when there is none. ValueError if unreadable."""
        path = self.path(job_id)
        if not path.exists():
            return None
        return read_record(path)

    def remove(self, job_id: str, *, tell_later: bool = False) -> None:
        """The job's end is stored: drop its record (and tell the service; ``tell_later``:
        with the next request, see :meth:`SupervisorClient.forget
        <jobdeck.runtime.supervisor_client.SupervisorClient.forget>`)."""
        self.client.forget(job_id, later=tell_later)
        name = self._name(job_id)
        for folder in self._folders:  # (once per job ended: no Path made, no context manager)
            try:
                os.unlink(folder + name)
            except FileNotFoundError:
                continue


def drop_stale_records(
    directory: Path, running: Collection[str], next_attempts: Mapping[str, int] | None = None
) -> list[str]:
    """Delete the records in ``directory`` of programs that ended whose jobs are not
    ``running``; the ids of their jobs. Their ends are stored: such a record is one the
    service wrote down again because the app that stored the end went before telling it
    so. Left there, it would be taken for the end of a later attempt of the same job.
    Records of running programs and unreadable ones are left alone, and so is the record
    of a program the service started from an app's queue (``extra["queued"]``) as the
    attempt ``next_attempts`` (job id -> its next attempt, for the jobs the store has
    pending) says comes next: the app went before it stored that start, and the next app
    adopts it (its end is not stored)."""
    next_attempts = next_attempts or {}
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    dropped = []
    for name in names:
        job_id = name.removesuffix(".json")
        if job_id == name or name.startswith(".") or job_id in running:
            continue
        path = directory / name
        try:
            record = read_record(path)
        except ValueError:
            continue
        queued_attempt = record.extra.get("attempt") if record.extra.get("queued") else None
        if queued_attempt is not None and next_attempts.get(job_id) == queued_attempt:
            continue
        if record.finished:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            dropped.append(job_id)
    return dropped
