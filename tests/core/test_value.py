"""Value: the plain immutable value classes the first window needs (not ``@dataclass``,
whose methods are compiled when the module is imported) behave as frozen dataclasses do:
compared and hashed by their fields, shown with them, copied, never changed."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from jobdeck.api.options import ApiOptions, Listen
from jobdeck.api.paths import ApiPaths
from jobdeck.core.filters import JobFilter
from jobdeck.core.job_status import JobStatus
from jobdeck.runtime.runtime_dir import RuntimeDir


def test_equal_by_fields_in_order_and_hashed_alike() -> None:
    a = JobFilter((JobStatus.FAILED,), ("copy",), "disk")
    assert a == JobFilter(statuses=(JobStatus.FAILED,), types=("copy",), search="disk")
    assert a != JobFilter((JobStatus.FAILED,), ("copy",))
    assert {a: 1}[JobFilter.of(status="failed", type="copy", search="disk")] == 1
    assert Listen(8080) == Listen(8080, "127.0.0.1") != Listen(8080, "0.0.0.0")
    # Another class with the same fields is not equal (as dataclasses).
    assert Listen(1) != RuntimeDir(1, "127.0.0.1")  # type: ignore[arg-type]
    assert JobFilter() != ()


def test_repr_names_the_fields() -> None:
    assert repr(Listen(8080)) == "Listen(port=8080, host='127.0.0.1')"
    assert repr(JobFilter(search="x")) == "JobFilter(statuses=(), types=(), search='x')"


def test_fields_cannot_be_changed_or_added() -> None:
    f = JobFilter(search="x")
    with pytest.raises(AttributeError, match="search"):
        f.search = "y"
    with pytest.raises(AttributeError):
        del f.search
    with pytest.raises(AttributeError):
        f.other = 1
    assert f.search == "x"


def test_copied_and_pickled_whole(tmp_path: Path) -> None:
    for value in (JobFilter((JobStatus.RUNNING,), (), "a"), Listen(0, "::1"), RuntimeDir(tmp_path)):
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value
        assert pickle.loads(pickle.dumps(value)) == value
    options = ApiOptions(ApiPaths.for_store(tmp_path / "jobs.db", tmp_path), Listen(0))
    assert copy.copy(options) == options and copy.copy(options).paths is options.paths
    assert RuntimeDir(tmp_path).refused == []  # (each its own list)
    assert RuntimeDir(tmp_path).refused is not RuntimeDir(tmp_path).refused
