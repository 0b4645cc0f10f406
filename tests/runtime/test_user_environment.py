"""Jobs inherit the user's environment as it is when they start, through public APIs only
(:mod:`jobdeck.runtime.user_environment`), without copying it for every job."""

from __future__ import annotations

import inspect
import os
import sys
import time

import pytest

from jobdeck.core.process_spec import ProcessSpec
from jobdeck.runtime import process_launch, user_environment
from jobdeck.runtime.process_launch import prepare_command


def _env_of_next_job(**own: str) -> dict[str, str]:
    return prepare_command(ProcessSpec(("true",), env=own)).env


def test_each_job_gets_the_environment_as_it_is_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDECK_T_KEPT", "1")
    monkeypatch.setenv("JOBDECK_T_GONE", "here")
    first = _env_of_next_job(OWN="mine")
    assert (first["JOBDECK_T_KEPT"], first["JOBDECK_T_GONE"], first["OWN"]) == ("1", "here", "mine")
    monkeypatch.setenv("JOBDECK_T_KEPT", "2")
    monkeypatch.delenv("JOBDECK_T_GONE")
    os.environ.update(JOBDECK_T_NEW="3")
    second = _env_of_next_job()
    assert second["JOBDECK_T_KEPT"] == "2"
    assert "JOBDECK_T_GONE" not in second
    assert second["JOBDECK_T_NEW"] == "3"
    assert "OWN" not in second  # a job's own variables are its own
    del os.environ["JOBDECK_T_NEW"]
    assert "JOBDECK_T_NEW" not in _env_of_next_job()


def test_the_environment_is_copied_only_after_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    first = user_environment.user_environment()
    assert user_environment.user_environment() is first  # nothing changed: no copy
    monkeypatch.setenv("JOBDECK_T_CHANGED", "yes")
    changed = user_environment.user_environment()
    assert changed is not first
    assert changed["JOBDECK_T_CHANGED"] == "yes"
    assert user_environment.user_environment() is changed


def test_a_setting_for_qt_alone_does_not_reach_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(user_environment, "SETTLE", 0.05)
    user_environment.user_environment()
    os.putenv("JOBDECK_T_QT_ONLY", "1")  # as paint_on_one_thread does: not in os.environ
    try:
        assert "JOBDECK_T_QT_ONLY" not in _env_of_next_job()
        time.sleep(0.06)  # (past SETTLE: taken for a bare putenv, no copy per job after)
        settled = user_environment.user_environment()
        assert "JOBDECK_T_QT_ONLY" not in settled
        assert user_environment.user_environment() is settled
    finally:
        os.unsetenv("JOBDECK_T_QT_ONLY")


def test_a_change_heard_before_os_environ_holds_it_is_not_kept_as_the_copy() -> None:
    """``os.environ[name] = value`` raises the ``os.putenv`` event before it stores the
    value: a job started by another thread in between must not make later jobs miss it."""
    user_environment.user_environment()
    sys.audit("os.putenv", b"JOBDECK_T_LATE", b"1")  # heard; os.environ does not hold it yet
    early = user_environment.user_environment()
    assert "JOBDECK_T_LATE" not in early
    assert user_environment.user_environment() is not early  # not kept: copied again
    os.environ["JOBDECK_T_LATE"] = "1"
    try:
        assert _env_of_next_job()["JOBDECK_T_LATE"] == "1"
    finally:
        del os.environ["JOBDECK_T_LATE"]


def test_no_private_attribute_of_os_environ_is_read() -> None:
    for module in (process_launch, user_environment):
        assert "_data" not in inspect.getsource(module), module.__name__
