"""Tests for jobdeck.runtime.process: real child processes, no Qt.

Every process is spawned through the ``spawn`` fixture, which tags it (and so all of its
descendants) with a unique environment variable and kills anything still carrying the tag
when the test ends, so no test leaves processes behind.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.runtime.process import (
    TAIL_LINES,
    ProcessHandle,
    ProcessResult,
    ProcessStartError,
)

MARKER = "JOBDECK_TEST_PROCESS_MARKER"
TIMEOUT = 5.0


class Recorder:
    """Collects on_line / on_exit calls and lets a test wait for them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.results: list[ProcessResult] = []
        self.exited = threading.Event()
        self._changed = threading.Condition()

    def on_line(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def on_exit(self, result: ProcessResult) -> None:
        self.results.append(result)
        self.exited.set()

    def wait_for_lines(self, count: int, timeout: float = TIMEOUT) -> list[str]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.lines) >= count, timeout), self.lines
            return list(self.lines)


Spawn = Callable[..., ProcessHandle]


def _kill_tagged(marker: str) -> list[int]:
    killed = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARKER) == marker:
                process.kill()
                killed.append(process.pid)
        except psutil.Error:
            continue
    return killed


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    marker = uuid.uuid4().hex
    handles: list[ProcessHandle] = []

    def _spawn(argv: Any, **kwargs: Any) -> ProcessHandle:
        kwargs.setdefault("log_path", tmp_path / "job.log")
        kwargs["env"] = {MARKER: marker, **(kwargs.get("env") or {})}
        handle = ProcessHandle.spawn(argv, **kwargs)
        handles.append(handle)
        return handle

    yield _spawn
    for handle in handles:
        handle.kill_tree()
    _kill_tagged(marker)
    for handle in handles:
        assert handle.wait(TIMEOUT) is not None, f"{handle} did not finish"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# ---------------------------------------------------------------------- output


def test_output_reaches_log_file_and_on_line(spawn: Spawn, tmp_path: Path) -> None:
    rec = Recorder()
    log = tmp_path / "logs" / "job.log"
    handle = spawn(
        ["sh", "-c", "echo hello; echo oops >&2"],
        log_path=log,
        on_line=rec.on_line,
        on_exit=rec.on_exit,
    )
    result = handle.wait(TIMEOUT)
    assert result == ProcessResult(
        exit_code=0, signal=None, tail=("hello", "oops"), killed_by_us=False
    )
    assert rec.lines == ["hello", "oops"]
    assert log.read_bytes() == b"hello\noops\n"
    assert rec.results == [result]
    assert not handle.running
    assert handle.poll() == 0


def test_log_file_is_appended_not_truncated(spawn: Spawn, tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"earlier run\n")
    assert spawn(["echo", "again"], log_path=log).wait(TIMEOUT) is not None
    assert log.read_bytes() == b"earlier run\nagain\n"


def test_carriage_returns_and_crlf_split_lines(spawn: Spawn, tmp_path: Path) -> None:
    rec = Recorder()
    handle = spawn(
        ["printf", r"10%%\r20%%\r30%%\r\nwin\r\nlast without newline"], on_line=rec.on_line
    )
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert rec.lines == ["10%", "20%", "30%", "win", "last without newline"]
    assert (tmp_path / "job.log").read_bytes() == (b"10%\r20%\r30%\r\nwin\r\nlast without newline")


def test_real_tqdm_bar_becomes_lines(spawn: Spawn) -> None:
    rec = Recorder()
    code = (
        "import sys\n"
        "from tqdm import tqdm\n"
        "for _ in tqdm(range(4), file=sys.stderr, mininterval=0, miniters=1, ascii=True):\n"
        "    pass\n"
    )
    result = spawn([sys.executable, "-c", code], on_line=rec.on_line).wait(TIMEOUT)
    assert result is not None and result.exit_code == 0
    assert rec.lines[0].startswith("  0%|")
    assert rec.lines[-1].startswith("100%|##########| 4/4")
    assert len(rec.lines) >= 2
    assert not any("\r" in line or "\n" in line for line in rec.lines)


def test_ansi_escapes_stripped_and_bad_utf8_replaced(spawn: Spawn, tmp_path: Path) -> None:
    rec = Recorder()
    raw = r"\033[1;31mred\033[0m \033]0;title\007caf\303\251 \377\n"
    spawn(["printf", raw], on_line=rec.on_line).wait(TIMEOUT)
    assert rec.lines == ["red caf\u00e9 \ufffd"]
    assert b"\x1b[1;31m" in (tmp_path / "job.log").read_bytes()  # the log keeps raw bytes


def test_blank_lines_are_not_reported(spawn: Spawn) -> None:
    rec = Recorder()
    spawn(["printf", r"a\n\n   \nb\n"], on_line=rec.on_line).wait(TIMEOUT)
    assert rec.lines == ["a", "b"]


def test_failing_on_line_is_logged_and_reading_continues(
    spawn: Spawn, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        raise RuntimeError(f"bad consumer {line}")

    rec = Recorder()
    with caplog.at_level(logging.ERROR, logger="jobdeck.runtime.process"):
        handle = spawn(["printf", r"one\ntwo\n"], on_line=on_line, on_exit=rec.on_exit)
        result = handle.wait(TIMEOUT)
    assert seen == ["one", "two"]
    assert result is not None and result.tail == ("one", "two")
    assert rec.results == [result]
    assert "bad consumer one" in caplog.text
    assert (tmp_path / "job.log").read_bytes() == b"one\ntwo\n"


# ---------------------------------------------------------------------- exit


def test_nonzero_exit_is_reported_with_tail(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(
        ["sh", "-c", "i=1; while [ $i -le 30 ]; do echo line $i; i=$((i+1)); done; exit 3"],
        on_exit=rec.on_exit,
    )
    assert rec.exited.wait(TIMEOUT)
    (result,) = rec.results
    assert result.exit_code == 3
    assert result.signal is None
    assert result.killed_by_us is False
    assert len(result.tail) == TAIL_LINES == 20
    assert result.tail == tuple(f"line {i}" for i in range(11, 31))
    assert handle.wait(TIMEOUT) is result


def test_on_exit_called_exactly_once(spawn: Spawn) -> None:
    calls: list[ProcessResult] = []
    returned = threading.Event()

    def on_exit(result: ProcessResult) -> None:
        calls.append(result)
        returned.set()

    handle = spawn(["true"], on_exit=on_exit)
    assert returned.wait(TIMEOUT)
    first = handle.wait(TIMEOUT)
    handle.terminate_tree(grace=0)
    handle.kill_tree()
    assert handle.wait(TIMEOUT) is first
    assert calls == [first]
    assert first is not None and first.killed_by_us is False


def test_wait_inside_on_exit_returns_the_result(spawn: Spawn) -> None:
    inner: list[ProcessResult | None] = []
    handles: list[ProcessHandle] = []
    ready = threading.Event()
    done = threading.Event()

    def on_exit(result: ProcessResult) -> None:
        ready.wait(TIMEOUT)
        inner.append(handles[0].wait())
        done.set()

    handles.append(spawn(["true"], on_exit=on_exit))
    ready.set()
    assert done.wait(TIMEOUT)
    assert inner == [handles[0].wait(TIMEOUT)]


def test_wait_times_out_while_running(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    assert handle.wait(timeout=0.05) is None
    assert handle.running
    assert handle.poll() is None
    handle.kill_tree()
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert result.signal == signal.SIGKILL
    assert result.exit_code is None
    assert result.killed_by_us is True


def test_identity_pid_pgid_create_time(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    assert handle.pgid == handle.pid == os.getpgid(handle.pid) == os.getsid(handle.pid)
    assert handle.pgid != os.getpgid(0)
    assert handle.create_time == psutil.Process(handle.pid).create_time()
    assert "sleep" in repr(handle)


def test_exit_reported_even_if_a_background_child_keeps_output_open(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(
        ["sh", "-c", "sleep 60 & echo started"],
        on_line=rec.on_line,
        on_exit=rec.on_exit,
        drain_timeout=0.2,
    )
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert result.exit_code == 0
    assert result.tail == ("started",)


# ---------------------------------------------------------------------- start errors


def test_missing_executable(spawn: Spawn, tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError) as info:
        spawn(["jobdeck-no-such-program-xyz", "--flag"])
    assert str(info.value) == "executable not found: 'jobdeck-no-such-program-xyz' (searched PATH)"
    assert not (tmp_path / "job.log").exists()  # nothing ran, nothing was opened


def test_missing_executable_path(spawn: Spawn, tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError, match=r"executable not found: '\./nope\.sh' \(in "):
        spawn(["./nope.sh"], cwd=tmp_path)


def test_non_executable_file(spawn: Spawn, tmp_path: Path) -> None:
    script = tmp_path / "x.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(ProcessStartError) as info:
        spawn(["./x.sh"], cwd=tmp_path)
    assert str(info.value).startswith("permission denied: './x.sh' is not executable")


def test_relative_executable_resolved_in_cwd(spawn: Spawn, tmp_path: Path) -> None:
    script = tmp_path / "x.sh"
    script.write_text("#!/bin/sh\necho ran in $(pwd)\n")
    script.chmod(0o755)
    rec = Recorder()
    result = spawn(["./x.sh"], cwd=str(tmp_path), on_line=rec.on_line).wait(TIMEOUT)
    assert result is not None and result.exit_code == 0
    assert rec.lines == [f"ran in {tmp_path}"]


def test_script_without_shebang(spawn: Spawn, tmp_path: Path) -> None:
    script = tmp_path / "noshebang"
    script.write_text("echo hi\n")
    script.chmod(0o755)
    with pytest.raises(ProcessStartError, match="needs a '#!' line"):
        spawn([str(script)])


def test_bad_cwd(spawn: Spawn, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ProcessStartError) as info:
        spawn(["true"], cwd=str(missing))
    assert str(info.value) == f"working directory does not exist: {missing}"
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ProcessStartError, match="working directory is not a directory"):
        spawn(["true"], cwd=a_file)


@pytest.mark.parametrize(
    ("argv", "shell", "message"),
    [
        ("ls -l", False, "argv must be a list of arguments, got the string 'ls -l'"),
        ([], False, "argv is empty"),
        (["echo", 3], False, r"argv\[1\] must be a string, got int 3"),
        ([""], False, r"argv\[0\] \(the program to run\) is an empty string"),
        (["echo", "a", "b"], True, "shell=True needs one command string"),
        ("   ", True, "the shell command is empty"),
    ],
)
def test_bad_argv_is_rejected(spawn: Spawn, argv: Any, shell: bool, message: str) -> None:
    with pytest.raises(ProcessStartError, match=message):
        spawn(argv, shell=shell)


def test_bad_env_value_is_rejected(spawn: Spawn) -> None:
    with pytest.raises(ProcessStartError, match="environment variable N must be a string"):
        spawn(["true"], env={"N": 1})


# ---------------------------------------------------------------------- shell and env


def test_no_shell_passes_dollar_home_literally(spawn: Spawn) -> None:
    rec = Recorder()
    spawn(["echo", "$HOME", "*"], on_line=rec.on_line).wait(TIMEOUT)
    assert rec.lines == ["$HOME *"]


@pytest.mark.parametrize("command", ["echo $HOME", ["echo $HOME"]])
def test_shell_true_expands(spawn: Spawn, command: Any) -> None:
    rec = Recorder()
    handle = spawn(command, shell=True, env={"HOME": "/custom/home"}, on_line=rec.on_line)
    handle.wait(TIMEOUT)
    assert rec.lines == ["/custom/home"]
    assert handle.argv == ("/bin/sh", "-c", "echo $HOME")


def test_env_is_merged_over_os_environ(spawn: Spawn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBDECK_INHERITED", "from parent")
    monkeypatch.setenv("JOBDECK_OVERRIDDEN", "old")
    rec = Recorder()
    spawn(
        ["sh", "-c", 'echo "$JOBDECK_INHERITED|$JOBDECK_OVERRIDDEN|$JOBDECK_NEW"'],
        env={"JOBDECK_OVERRIDDEN": "new", "JOBDECK_NEW": "42"},
        on_line=rec.on_line,
    ).wait(TIMEOUT)
    assert rec.lines == ["from parent|new|42"]


# ---------------------------------------------------------------------- stopping


def test_terminate_tree_stops_a_well_behaved_process(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    handle.terminate_tree(grace=5.0)
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert result.signal == signal.SIGTERM
    assert result.killed_by_us is True


def test_terminate_tree_escalates_to_sigkill_after_grace(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(
        ["sh", "-c", 'trap "" TERM; echo ready; sleep 60'],
        on_line=rec.on_line,
        on_exit=rec.on_exit,
    )
    rec.wait_for_lines(1)  # the trap is installed
    grace = 0.3
    started = time.monotonic()
    handle.terminate_tree(grace=grace)
    assert time.monotonic() - started < 0.1  # does not block
    assert handle.wait(timeout=0.2) is None  # SIGTERM is ignored...
    result = handle.wait(timeout=grace + 0.5)  # ...until the SIGKILL
    elapsed = time.monotonic() - started
    assert result is not None, "still alive after grace + 0.5 s"
    assert elapsed >= grace - 0.05
    assert result.signal == signal.SIGKILL
    assert result.killed_by_us is True
    assert rec.results == [result]


@pytest.mark.parametrize("background", ["sleep 60", "setsid sleep 60"])
def test_terminate_tree_reaches_grandchildren(spawn: Spawn, background: str) -> None:
    rec = Recorder()
    handle = spawn(["sh", "-c", f"{background} & echo $!; wait"], on_line=rec.on_line)
    grandchild = int(rec.wait_for_lines(1)[0])
    if background.startswith("setsid"):  # make sure it really left our process group
        assert _wait_until(lambda: os.getsid(grandchild) == grandchild)
        assert os.getpgid(grandchild) != handle.pgid
    assert not _gone(grandchild)
    handle.terminate_tree(grace=2.0)
    result = handle.wait(TIMEOUT)
    assert result is not None and result.killed_by_us
    assert _wait_until(lambda: _gone(grandchild), timeout=1.0), "grandchild survived"


def test_sigkill_reaches_a_setsid_grandchild_that_ignores_sigterm(
    spawn: Spawn, tmp_path: Path
) -> None:
    stubborn = tmp_path / "stubborn.sh"
    stubborn.write_text('#!/bin/sh\ntrap "" TERM\necho $$\nexec sleep 60\n')
    stubborn.chmod(0o755)
    rec = Recorder()
    handle = spawn(["sh", "-c", f"setsid {stubborn} & wait"], on_line=rec.on_line)
    grandchild = int(rec.wait_for_lines(1)[0])
    assert _wait_until(lambda: psutil.Process(grandchild).name() == "sleep")
    grace = 0.3
    handle.terminate_tree(grace=grace)
    result = handle.wait(TIMEOUT)  # the shell dies on SIGTERM; its orphan lives on...
    assert result is not None and result.signal == signal.SIGTERM
    # ...until the escalation, which remembers it even though it was re-parented.
    assert _wait_until(lambda: _gone(grandchild), timeout=grace + 0.5), "grandchild survived"


def test_kill_tree_kills_now(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(["sh", "-c", 'trap "" TERM; sleep 60 & echo $!; wait'], on_line=rec.on_line)
    grandchild = int(rec.wait_for_lines(1)[0])
    handle.kill_tree()
    result = handle.wait(TIMEOUT)
    assert result is not None and result.signal == signal.SIGKILL and result.killed_by_us
    assert _wait_until(lambda: _gone(grandchild), timeout=1.0)


def test_negative_grace_is_rejected(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    with pytest.raises(ValueError, match="grace must be >= 0"):
        handle.terminate_tree(grace=-1)
