"""Tests for jobdeck.worker, the stdlib-only helper, against a real ChannelServer."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jobdeck.worker as worker
from jobdeck.runtime import protocol
from jobdeck.runtime.channel import ChannelServer
from jobdeck.runtime.protocol import (
    CompletedMsg,
    FailedMsg,
    Heartbeat,
    LogMsg,
    ProgressMsg,
    encode_message,
    parse_message,
)
from jobdeck.worker import JobCancelled, RunningJob, run_and_report
from tests.runtime.channel_helpers import Recorder, running_server, wait_until

WORKER_FILE = Path(worker.__file__)


@pytest.fixture
def jobs() -> Iterator[list[RunningJob]]:
    made: list[RunningJob] = []
    yield made
    for job in made:
        job.close(timeout=0.5)


def connected_job(
    server: ChannelServer, jobs: list[RunningJob], job_id: str = "job-1", **env: str
) -> RunningJob:
    job = RunningJob.from_environment({**server.register(job_id), **env})
    jobs.append(job)
    return job


# ---------------------------------------------------------------------------- standalone file


def test_the_worker_imports_only_the_standard_library() -> None:
    tree = ast.parse(WORKER_FILE.read_text())
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))


def test_copied_constants_match_the_protocol() -> None:
    for name in ("ENV_CHANNEL", "ENV_JOB_ID", "ENV_TOKEN", "MAX_LINE_BYTES", "LOG_LEVELS"):
        assert getattr(worker, name) == getattr(protocol, name), name


@pytest.mark.parametrize(
    ("obj", "msg"),
    [
        (
            {"type": "log", "jobId": "j", "timestamp": 1.5, "level": "info", "message": "ü ✓"},
            LogMsg("j", 1.5, "info", "ü ✓"),
        ),
        (
            {"type": "failed", "jobId": "j", "timestamp": 2.0, "error": "e", "stack": "s"},
            FailedMsg("j", 2.0, "e", "s"),
        ),
        (
            {"type": "completed", "jobId": "j", "timestamp": 3.0, "result": {"a": [1, None]}},
            CompletedMsg("j", 3.0, {"a": [1, None]}),
        ),
        ({"type": "heartbeat", "jobId": "j", "timestamp": 4.0}, Heartbeat("j", 4.0)),
    ],
)
def test_lines_are_byte_for_byte_what_the_protocol_writes(obj: dict[str, Any], msg: Any) -> None:
    line = worker._encode(obj)
    assert line == encode_message(msg)
    assert parse_message(line) == msg


def test_the_file_works_when_copied_alone(tmp_path: Path) -> None:
    (tmp_path / "jobdeck_worker.py").write_text(WORKER_FILE.read_text())
    script = tmp_path / "job.py"
    script.write_text("import jobdeck_worker as w\nw.run_job(lambda job: job.progress(50))\n")
    done = subprocess.run(
        [sys.executable, "-E", "-s", str(script)],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "50%" in done.stderr


# ---------------------------------------------------------------------------- through a server


def test_run_reports_started_progress_logs_and_completed(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)

    def work(job: RunningJob) -> dict[str, int]:
        job.info("one")
        job.progress(10, message="ten")
        job.warn("two")
        job.error("three")
        job.progress(current=7, total=9, data={"files": 7})
        return {"answer": 42}

    assert run_and_report(work, job) == 0
    rec.wait_for_type("job-1", "completed")
    msgs = rec.of("job-1")
    assert [m.TYPE for m in msgs] == [
        "hello", "started", "log", "progress", "log", "log", "progress", "completed"
    ]  # fmt: skip
    assert [(m.level, m.message) for m in msgs if isinstance(m, LogMsg)] == [
        ("info", "one"),
        ("warning", "two"),
        ("error", "three"),
    ]
    first, last = (m for m in msgs if isinstance(m, ProgressMsg))
    assert (first.current, first.total, first.message) == (10, 100, "ten")
    assert (last.current, last.total, last.data) == (7, 9, {"files": 7})
    assert msgs[-1] == CompletedMsg("job-1", msgs[-1].timestamp, {"answer": 42})
    assert rec.warnings == []


def test_an_exception_is_reported_with_its_traceback(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)

    def broken_step(job: RunningJob) -> None:
        raise KeyError("missing input")

    assert run_and_report(broken_step, job) == 1
    failed = rec.wait_for_type("job-1", "failed")
    assert isinstance(failed, FailedMsg)
    assert failed.error == "KeyError: 'missing input'"
    assert failed.stack is not None and "broken_step" in failed.stack
    assert "completed" not in rec.types("job-1")


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [(0, 0, "completed"), (None, 0, "completed"), (3, 3, "failed"), ("boom", 1, "failed")],
)
def test_sys_exit_inside_the_job(
    server: ChannelServer,
    rec: Recorder,
    jobs: list[RunningJob],
    code: Any,
    status: int,
    outcome: str,
) -> None:
    job = connected_job(server, jobs)

    def leave(job: RunningJob) -> None:
        sys.exit(code)

    assert run_and_report(leave, job) == status
    rec.wait_for_type("job-1", outcome)


def test_a_result_that_is_not_json_completes_with_a_warning(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    assert run_and_report(lambda job: {1, 2}, job) == 0
    completed = rec.wait_for_type("job-1", "completed")
    assert isinstance(completed, CompletedMsg) and completed.result is None
    warning = next(m for m in rec.of("job-1") if isinstance(m, LogMsg))
    assert warning.level == "warning" and "not JSON" in warning.message


def test_progress_data_that_is_not_json_becomes_a_warning(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    job.progress(5, data={"when": object()})
    job.close()
    rec.wait_for(lambda: "log" in rec.types("job-1"))
    log = next(m for m in rec.of("job-1") if isinstance(m, LogMsg))
    assert log.message.startswith("progress not sent:")
    assert rec.warnings == []


def test_a_tight_progress_loop_is_coalesced_and_the_final_state_is_sent(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    total = 50_000
    started = time.monotonic()
    for i in range(1, total + 1):
        job.progress(current=i, total=total)
    elapsed = time.monotonic() - started
    job.completed()
    assert job.close()
    rec.wait_for_type("job-1", "completed")
    progress = [m for m in rec.of("job-1") if isinstance(m, ProgressMsg)]
    assert len(progress) <= elapsed * worker.PROGRESS_RATE + 3
    assert progress[-1].current == total
    assert rec.types("job-1")[-2:] == ["progress", "completed"]


def test_progress_and_logs_keep_their_order(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    for i in range(20):
        job.progress(i * 5)
        job.info(f"after {i * 5}")
    job.close()
    rec.wait_for(lambda: rec.types("job-1").count("log") == 20)
    order = [
        f"p{m.current:g}" if isinstance(m, ProgressMsg) else m.message
        for m in rec.of("job-1")
        if isinstance(m, ProgressMsg | LogMsg)
    ]
    for i in range(20):  # every progress that was sent comes right before its log
        if f"p{i * 5}" in order:
            assert order[order.index(f"p{i * 5}") + 1] == f"after {i * 5}"


def test_a_burst_of_logs_while_connected_is_not_dropped(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    for i in range(3000):
        job.info(f"line {i}")
    assert job.close()
    rec.wait_for(lambda: rec.types("job-1").count("log") == 3000)
    logs = [m.message for m in rec.of("job-1") if isinstance(m, LogMsg)]
    assert logs == [f"line {i}" for i in range(3000)]


def test_logs_beyond_the_queue_limit_wait_for_room_instead_of_being_dropped(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "MAX_QUEUED_LOGS", 20)
    job = connected_job(server, jobs)
    for i in range(2000):
        job.info(f"line {i}")
    assert job.close()
    rec.wait_for(lambda: rec.types("job-1").count("log") == 2000)
    logs = [m.message for m in rec.of("job-1") if isinstance(m, LogMsg)]
    assert logs == [f"line {i}" for i in range(2000)]


def test_progress_after_an_idle_spell_is_sent(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    job.progress(current=1, total=3, message="first")
    rec.wait_for(lambda: "progress" in rec.types("job-1"))
    wait_until(lambda: job._sender_asleep)  # nothing left to send: the sender sleeps
    job.progress(current=2, total=3, message="after a pause")
    rec.wait_for(lambda: rec.types("job-1").count("progress") == 2)
    last = [m for m in rec.of("job-1") if isinstance(m, ProgressMsg)][-1]
    assert (last.current, last.total, last.message) == (2, 3, "after a pause")


def test_the_latest_progress_is_sent_when_a_script_exits_without_closing(
    server: ChannelServer, rec: Recorder, tmp_path: Path
) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "from jobdeck.worker import RunningJob\n"
        "job = RunningJob.from_environment()\n"
        "for i in range(1, 100_001):\n"
        "    job.progress(current=i, total=100_000, message=f'item {i}')\n"
    )
    env = {**os.environ, **server.register("job-1"), "PYTHONPATH": str(WORKER_FILE.parents[2])}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    rec.wait_for(lambda: any(m.message == "item 100000" for m in progress_of(rec, "job-1")))
    assert progress_of(rec, "job-1")[-1].current == 100_000


def progress_of(rec: Recorder, job_id: str) -> list[ProgressMsg]:
    return [m for m in rec.of(job_id) if isinstance(m, ProgressMsg)]


def test_progress_accepts_floats_and_clamps_on_the_way_out(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    job.progress(150.5, message="over")
    job.info("one")
    job.progress(current=2.5, total=2.0)
    job.info("two")
    job.progress(current=2**60, total=0)
    job.close()
    rec.wait_for(lambda: rec.types("job-1").count("progress") == 3)
    sent = [(m.current, m.total, m.message) for m in progress_of(rec, "job-1")]
    assert sent == [(100, 100, "over"), (2.0, 2.0, None), (2**60, 0, None)]


def test_the_old_name_job_still_works_but_is_deprecated() -> None:
    with pytest.warns(PendingDeprecationWarning, match="renamed RunningJob"):
        from jobdeck.worker import Job
    assert Job is RunningJob
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        worker.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_cancel_sets_cancelled(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    job.heartbeat()
    wait_until(lambda: server.connected("job-1"))
    assert not job.cancelled
    job.checkpoint()
    assert server.send_cancel("job-1", "user asked")
    assert job.wait_cancelled(5.0)
    assert job.cancelled
    assert job.cancel_reason == "user asked"
    with pytest.raises(JobCancelled, match="user asked"):
        job.checkpoint()


def test_heartbeats_are_sent_automatically(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    connected_job(server, jobs, JOBDECK_HEARTBEAT_INTERVAL="0.02")
    rec.wait_for(lambda: rec.types("job-1").count("heartbeat") >= 3)


def test_the_job_reconnects_to_a_restarted_app_keeping_the_latest_state(
    runtime_dir: Path, rec: Recorder, jobs: list[RunningJob]
) -> None:
    with running_server(runtime_dir, rec) as first_app:
        env = first_app.register("job-1")
        job = RunningJob.from_environment({**env, "JOBDECK_HEARTBEAT_INTERVAL": "0.05"})
        jobs.append(job)
        job.progress(10)
        rec.wait_for(lambda: "progress" in rec.types("job-1"))
    # The app is gone. The job carries on; nothing it calls waits for the app or raises
    # (the bound is generous: waiting for a reconnect would take seconds).
    started = time.monotonic()
    for i in range(250):
        job.info(f"log {i}")
        job.progress(current=i, total=1000)
    assert time.monotonic() - started < 5.0
    before = len(rec.messages)

    # The next app knows the job before it listens, as a restarted Jobdeck re-attaches its
    # jobs first: a reconnect can never be refused as "unknown job" and lose its batch.
    second_app = ChannelServer(rec.on_message, rec.on_warning, directory=runtime_dir)
    second_app.register("job-1", token=env["JOBDECK_TOKEN"])
    second_app.start()
    try:
        rec.wait_for(lambda: rec.types("job-1").count("hello") == 2)
        job.completed({"ok": True})
        assert job.close(timeout=30)
        rec.wait_for_type("job-1", "completed")
    finally:
        second_app.close()
    after = [m for _, m in rec.messages[before:]]
    logs = [m.message for m in after if isinstance(m, LogMsg)]
    assert logs[0] == "150 log messages were dropped because they could not be sent in time"
    assert logs[1:] == [f"log {i}" for i in range(150, 250)]
    progress = [m for m in after if isinstance(m, ProgressMsg)]
    assert progress[-1].current == 249
    assert after[-1].TYPE == "completed"
    assert rec.warnings == []


def test_close_gives_up_when_the_app_never_comes_back(
    runtime_dir: Path, rec: Recorder, jobs: list[RunningJob]
) -> None:
    with running_server(runtime_dir, rec) as app:
        job = RunningJob.from_environment(app.register("job-1"))
    job.completed()
    started = time.monotonic()
    assert not job.close(timeout=0.2)
    assert time.monotonic() - started < 1.5


# ---------------------------------------------------------------------------- outside Jobdeck


def test_outside_jobdeck_everything_is_printed_to_stderr() -> None:
    err = io.StringIO()
    job = RunningJob(stderr=err)
    job.progress(42, message="copying")
    job.progress(50)  # within a second of the last line: held back
    job.warn("disk is slow")
    assert run_and_report(lambda job: job.progress(current=3, total=4), job) == 0
    assert err.getvalue().splitlines() == ["[ 42%] copying", "warning: disk is slow", "[3/4]"]
    assert not job.cancelled


def test_outside_jobdeck_a_failure_prints_the_traceback() -> None:
    err = io.StringIO()

    def fail(job: RunningJob) -> None:
        raise ValueError("bad")

    assert run_and_report(fail, RunningJob(stderr=err)) == 1
    assert "ValueError: bad" in err.getvalue() and "Traceback" in err.getvalue()


def test_from_environment_without_a_channel_is_standalone() -> None:
    job = RunningJob.from_environment({"JOBDECK_JOB_DATA": json.dumps({"n": 3})})
    assert job.data == {"n": 3}
    assert job._channel is None
    assert RunningJob.from_environment({}).data == {}


def test_channel_without_token_falls_back_to_printing(capsys: pytest.CaptureFixture[str]) -> None:
    job = RunningJob.from_environment({"JOBDECK_CHANNEL": "/nonexistent", "JOBDECK_JOB_ID": "j"})
    assert job._channel is None
    assert "JOBDECK_TOKEN is not" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raw", "match"), [("{oops", "is not valid JSON"), ("[1]", "must be a JSON object")]
)
def test_bad_job_data_is_a_clear_error(raw: str, match: str) -> None:
    with pytest.raises(ValueError, match=f"JOBDECK_JOB_DATA {match}"):
        RunningJob.from_environment({"JOBDECK_JOB_DATA": raw})


# ---------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "needs percent or current"),
        ({"percent": 5, "current": 1}, ValueError, "either percent or current"),
        ({"percent": -1}, ValueError, "percent must be a finite number >= 0"),
        ({"percent": float("nan")}, ValueError, "percent"),
        ({"percent": float("inf")}, ValueError, "percent must be a finite number >= 0"),
        ({"current": float("nan"), "total": 3}, ValueError, "current must be a finite"),
        ({"current": 1.5, "total": float("-inf")}, ValueError, "total must be a finite"),
        ({"current": None, "total": 3}, ValueError, "needs percent or current"),
        ({"current": True}, TypeError, "current must be a number"),
        ({"percent": True}, TypeError, "percent must be a number"),
        ({"current": "3"}, TypeError, "current must be a number"),
        ({"current": 1, "total": -1}, ValueError, "total"),
        ({"percent": 1, "message": 3}, TypeError, "message must be a string"),
        ({"percent": 1, "data": [1]}, TypeError, "data must be a dict"),
    ],
)
def test_progress_refuses_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        RunningJob(stderr=io.StringIO()).progress(**kwargs)


def test_progress_clamps_to_the_total(
    server: ChannelServer, rec: Recorder, jobs: list[RunningJob]
) -> None:
    job = connected_job(server, jobs)
    job.progress(current=12, total=10)
    job.close()
    msg = rec.wait_for_type("job-1", "progress")
    assert isinstance(msg, ProgressMsg) and (msg.current, msg.total) == (10, 10)


def test_log_refuses_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="level must be one of debug, info, warning, error"):
        RunningJob(stderr=io.StringIO()).log("x", level="loud")
