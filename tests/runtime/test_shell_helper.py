"""Tests for resources/jobdeck-job.sh, the helper shell scripts source to report to Jobdeck.

Run under dash (the strictest POSIX shell here) and bash, against a real ChannelServer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobdeck.runtime.channel import ChannelServer
from jobdeck.runtime.output_progress import parse_progress_line
from jobdeck.runtime.protocol import CompletedMsg, FailedMsg, LogMsg, ProgressMsg

from .channel_helpers import Recorder, wait_until

HELPER = Path(__file__).resolve().parents[2] / "resources" / "jobdeck-job.sh"
SHELLS = [
    pytest.param(name, marks=pytest.mark.skipif(not shutil.which(name), reason=f"no {name}"))
    for name in ("dash", "bash")
]


def run_sh(
    script: str, env: dict[str, str] | None = None, shell: str = "sh", *args: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    return subprocess.run(
        [shell, "-c", f'. "{HELPER}"\n{script}', "script", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,  # generous: a loaded machine forks slowly
        check=False,
    )


# ---------------------------------------------------------------------------- JSON escaping

# Shell variables cannot hold NUL; surrogates are not UTF-8.
_shell_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@settings(max_examples=40, deadline=None)
@given(text=_shell_text)
def test_json_string_round_trips_any_text(text: str) -> None:
    done = run_sh('job__json_string "$1"', None, "dash", text)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == text


@pytest.mark.parametrize(
    "text", ['say "hi"', "back\\slash", "tab\there", "two\nlines\n", "\x01\x1f\x7f", "ünï ✓", ""]
)
def test_json_string_escapes_the_hard_cases(text: str) -> None:
    done = run_sh('job__json_string "$1"', None, "dash", text)
    assert json.loads(done.stdout) == text


# ---------------------------------------------------------------------------- over the channel


@pytest.mark.parametrize("shell", SHELLS)
def test_helpers_send_every_message_type(server: ChannelServer, rec: Recorder, shell: str) -> None:
    script = """
job_init
job_info "plain info"
job_warn 'a "quoted" warning'
job_error "two
lines"
job_progress 42 "forty-two"
job_progress 3/12
job_progress 007.5
job_progress 250
job_heartbeat
job_complete '{"files": 12}'
"""
    done = run_sh(script, server.register("job-sh"), shell)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    rec.wait_for_type("job-sh", "completed")
    msgs = rec.of("job-sh")
    assert [m.TYPE for m in msgs] == [
        "hello", "started", "log", "log", "log", "progress", "progress", "progress", "progress",
        "heartbeat", "completed",
    ]  # fmt: skip
    assert [(m.level, m.message) for m in msgs if isinstance(m, LogMsg)] == [
        ("info", "plain info"),
        ("warning", 'a "quoted" warning'),
        ("error", "two\nlines"),
    ]
    progress = [(m.current, m.total, m.message) for m in msgs if isinstance(m, ProgressMsg)]
    assert progress == [(42, 100, "forty-two"), (3, 12, None), (7.5, 100, None), (100, 100, None)]
    assert msgs[-1] == CompletedMsg("job-sh", msgs[-1].timestamp, {"files": 12})
    assert rec.warnings == []


def test_job_fail_reports_and_exits_with_the_status(server: ChannelServer, rec: Recorder) -> None:
    done = run_sh('job_init\njob_fail "disk full" 3\necho not reached', server.register("j"))
    assert done.returncode == 3
    assert "not reached" not in done.stdout
    failed = rec.wait_for_type("j", "failed")
    assert isinstance(failed, FailedMsg) and failed.error == "disk full"


def test_job_cancelled_turns_true_after_a_cancel(server: ChannelServer, rec: Recorder) -> None:
    script = """
job_init
job_cancelled && echo early
job_info ready
while ! job_cancelled; do sleep 0.01; done
echo cancelled
job_complete
"""
    base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    process = subprocess.Popen(
        ["sh", "-c", f'. "{HELPER}"\n{script}'],
        env={**base, **server.register("j")},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        rec.wait_for(lambda: "log" in rec.types("j"))
        assert server.send_cancel("j", "stop")
        out, _ = process.communicate(timeout=10)
    finally:
        process.kill()
    assert out == "cancelled\n"
    rec.wait_for_type("j", "completed")


def test_an_unreachable_app_does_not_break_the_script(tmp_path: Path) -> None:
    env = {"JOBDECK_CHANNEL": str(tmp_path / "nobody.sock"), "JOBDECK_JOB_ID": "j"}
    env["JOBDECK_TOKEN"] = "t"
    done = run_sh("job_init\njob_progress 50\njob_info hi\njob_complete\necho end", env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "end\n"


def test_nothing_is_left_running_after_the_script(server: ChannelServer, rec: Recorder) -> None:
    marker = uuid.uuid4().hex
    env = {**server.register("j"), "JOBDECK_HEARTBEAT_INTERVAL": "0.01", "SH_TEST_MARKER": marker}
    script = 'job_init\njob_info "x"\nsleep 0.05'  # no job_complete: the EXIT trap cleans up
    done = run_sh(script, env)
    assert done.returncode == 0, done.stderr
    rec.wait_for(lambda: "heartbeat" in rec.types("j"))
    wait_until(lambda: not server.connected("j"))
    wait_until(lambda: marked_processes(marker) == [])


def marked_processes(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get("SH_TEST_MARKER") == marker:
                found.append(process)
        except psutil.Error:
            continue
    return found


# ---------------------------------------------------------------------------- without a socket


def test_outside_jobdeck_progress_is_printed_for_the_output_parser() -> None:
    done = run_sh(
        "job_init\njob_progress 42 copying\njob_progress 3/4\njob_info hello\njob_complete"
    )
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines == ["42% copying", "3/4"]
    parsed = [parse_progress_line(line) for line in lines]
    assert [(p.current, p.total) for p in parsed if p] == [(42, 100), (3, 4)]
    assert done.stderr == "info: hello\n"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("job_progress", "usage: job_progress"),
        ("job_progress abc", "'abc' is not a percentage"),
        ("job_progress -5", "'-5' is not a percentage"),
        ("job_progress 1.", "'1.' is not a percentage"),
        ("job_progress 3/x", "'3/x' is not CURRENT/TOTAL"),
    ],
)
def test_bad_progress_arguments_are_explained(call: str, message: str) -> None:
    done = run_sh(f"job_init\n{call}\necho status=$?")
    assert message in done.stderr
    assert done.stdout == "status=2\n"
