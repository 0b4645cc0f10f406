"""Find a job by its id or by the start of it (ids are long; people type a few characters).

Ids are upper-case Crockford base32 ULIDs that sort by creation, so the jobs whose id starts
with a prefix are found by paging back from just after the prefix. No Qt, no aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobdeck.core import Job, JobTracker

__all__ = ["AmbiguousId", "JobNotFound", "find_job", "jobs_with_prefix"]

#: Jobs read per query while looking for the jobs whose id starts with a prefix.
PREFIX_PAGE = 500
#: How many of the jobs an ambiguous id prefix matches are named in the error.
SHOWN_CANDIDATES = 5


class JobNotFound(LookupError):
    """No job has this id, and no id starts with it."""

    def __init__(self, text: str) -> None:
        super().__init__(
            f"no job with id {text!r} (nor an id starting with it)"
            if text
            else "give a job id (or the start of one)"
        )
        self.text = text


class AmbiguousId(LookupError):
    """Several jobs' ids start with this prefix."""

    def __init__(self, text: str, candidates: list[str]) -> None:
        shown = ", ".join(sorted(candidates, reverse=True)[:SHOWN_CANDIDATES])
        more = ", ..." if len(candidates) > SHOWN_CANDIDATES else ""
        super().__init__(
            f"id prefix {text!r} matches {len(candidates)} jobs ({shown}{more}); "
            "give more of the id"
        )
        self.text = text
        self.candidates = candidates


def jobs_with_prefix(tracker: JobTracker, prefix: str, page: int | None = None) -> list[Job]:
    """Every job whose id starts with ``prefix``, newest first."""
    page = page or PREFIX_PAGE
    found: list[Job] = []
    before = prefix + "\U0010ffff"  # sorts after every id that starts with the prefix
    while True:
        jobs = tracker.list_jobs(limit=page, before=before)
        matching = [job for job in jobs if job.id.startswith(prefix)]
        found.extend(matching)
        if len(matching) < len(jobs) or len(jobs) < page:
            return found  # newest first: past the last match, nothing else can match
        before = jobs[-1].id


def find_job(tracker: JobTracker, text: str, page: int | None = None) -> Job:
    """The job with id ``text``, or the one job whose id starts with it (any case).

    Raises :class:`JobNotFound` or :class:`AmbiguousId`."""
    text = text.strip()
    job = tracker.get_job(text) if text else None
    if job is not None:
        return job
    if not text:
        raise JobNotFound(text)
    candidates = {
        j.id: j
        for p in dict.fromkeys([text, text.upper()])
        for j in jobs_with_prefix(tracker, p, page)
    }
    if not candidates:
        raise JobNotFound(text)
    if len(candidates) > 1:
        raise AmbiguousId(text, list(candidates))
    return next(iter(candidates.values()))
