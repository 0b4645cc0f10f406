"""The examples in resources/examples, run as real child processes against a real ChannelServer.

Each example reports progress, logs and completion; each can be made to fail from its
command line and stops when cancelled through the channel; each still runs outside Jobdeck.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.runtime.channel import ChannelServer
from jobdeck.runtime.output_progress import parse_progress_line
from jobdeck.runtime.protocol import CompletedMsg, FailedMsg, LogMsg, ProgressMsg

from .channel_helpers import Recorder

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
NODE = shutil.which("node")
RUN_TIMEOUT = 20.0


def command(language: str, steps: int, *, fail_at: int = 0, slow: bool = False) -> list[str]:
    """The command line that runs the example in ``language``."""
    if language == "python":
        argv = [sys.executable, str(EXAMPLES / "progress.py"), "--steps", str(steps)]
        argv += ["--delay", "0.02"] if slow else []
        return argv + (["--fail-at", str(fail_at)] if fail_at else [])
    if language == "sh":
        return ["sh", str(EXAMPLES / "progress.sh"), str(steps), str(fail_at)]
    assert NODE is not None
    argv = [NODE, str(EXAMPLES / "progress.js"), "--steps", str(steps)]
    argv += ["--delay", "20"] if slow else []
    return argv + (["--fail-at", str(fail_at)] if fail_at else [])


LANGUAGES = [
    "python",
    "sh",
    pytest.param("node", marks=pytest.mark.skipif(NODE is None, reason="node is not installed")),
]


def job_env(server: ChannelServer, job_id: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    env.update(server.register(job_id), **extra)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "desktop")
    return env


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_reports_progress_logs_and_completion(
    server: ChannelServer, rec: Recorder, language: str
) -> None:
    done = run(command(language, 5), job_env(server, "job-ok"))
    assert done.returncode == 0, done.stderr
    rec.wait_for_type("job-ok", "completed")
    messages = rec.of("job-ok")
    types = [m.TYPE for m in messages]
    assert types[:3] == ["hello", "started", "log"]
    assert types[-1] == "completed"
    progress = [m for m in messages if isinstance(m, ProgressMsg)]
    currents = [m.current for m in progress]
    assert currents == sorted(set(currents))  # in order (Python coalesces: maybe fewer)
    assert (progress[-1].current, progress[-1].total) == (5, 5)
    assert progress[-1].message == "step 5 of 5"
    logs = [m.message for m in messages if isinstance(m, LogMsg)]
    assert logs == ["counting to 5", "all steps done"]
    completed = messages[-1]
    assert isinstance(completed, CompletedMsg) and completed.result == {"steps": 5}
    assert rec.warnings == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_reports_failure(server: ChannelServer, rec: Recorder, language: str) -> None:
    done = run(command(language, 5, fail_at=3), job_env(server, "job-bad"))
    assert done.returncode == 1, done.stderr
    failed = rec.wait_for_type("job-bad", "failed")
    assert isinstance(failed, FailedMsg)
    assert "step 3 failed on purpose" in failed.error
    assert "completed" not in rec.types("job-bad")
    assert max(m.current for m in rec.of("job-bad") if isinstance(m, ProgressMsg)) == 2
    if language != "sh":
        assert failed.stack is not None and "failed on purpose" in failed.stack
    assert rec.warnings == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_stops_when_cancelled_and_sends_heartbeats(
    server: ChannelServer, rec: Recorder, language: str
) -> None:
    env = job_env(server, "job-c", JOBDECK_HEARTBEAT_INTERVAL="0.05", DELAY="0.02")
    process = subprocess.Popen(
        command(language, 10_000, slow=True),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        rec.wait_for(lambda: rec.types("job-c").count("heartbeat") >= 2)
        assert server.send_cancel("job-c", reason="test")
        assert process.wait(RUN_TIMEOUT) == 1
    finally:
        process.kill()
        process.communicate()
    rec.wait_for(
        lambda: any(
            isinstance(m, LogMsg) and m.message.startswith("cancelled at step")
            for m in rec.of("job-c")
        )
    )
    assert "completed" not in rec.types("job-c")


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_runs_outside_jobdeck_printing_parseable_progress(language: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "desktop")
    done = run(command(language, 4), env)
    assert done.returncode == 0, done.stderr
    output = (done.stdout + done.stderr).splitlines()
    parsed = [p for p in map(parse_progress_line, output) if p is not None]
    assert parsed, output
    assert (parsed[-1].current / parsed[-1].total) == 1.0
    assert any("counting to 4" in line for line in output)


def test_sh_example_without_a_connector_prints_progress_lines(
    server: ChannelServer, rec: Recorder
) -> None:
    env = job_env(server, "job-print", JOBDECK_SH_CONNECTOR="print")
    done = run(command("sh", 3), env)
    assert done.returncode == 0, done.stderr
    parsed = [parse_progress_line(line) for line in done.stdout.splitlines()]
    assert [(p.current, p.total) for p in parsed if p is not None] == [(1, 3), (2, 3), (3, 3)]
    assert "info: counting to 3" in done.stderr
    assert rec.messages == []
