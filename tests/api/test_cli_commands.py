"""Every terminal command against a real running ``jobdeck serve`` (a subprocess), run as a
user runs them: ``python -m jobdeck --db DB <command>`` in a subprocess of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobTracker
from tests.api.serving import Served, short_dir, wait_for

JOBDECK = (sys.executable, "-m", "jobdeck")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``jobdeck serve`` for the commands that do not need a fresh store."""
    with short_dir() as runtime:
        runtime.chmod(0o700)
        served = Served(runtime, tmp_path_factory.mktemp("store") / "jobs.db").start()
        yield served
        if served.proc is not None:
            served.stop()


def job_of(app: Served, job_id: str) -> dict[str, Any]:
    with app.client() as client:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}")
        return job


def ok(result: subprocess.CompletedProcess[str], status: int = 0) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def test_run_prints_the_id_and_wait_exits_with_the_programs_status(app: Served) -> None:
    job_id = ok(app.jobdeck("run", "--", "sh", "-c", "echo hi")).strip()
    assert len(job_id) == 26 and job_of(app, job_id)["type"] == "command"
    ok(app.jobdeck("run", "--wait", "--", "true"))
    ok(app.jobdeck("run", "--wait", "--", "sh", "-c", "exit 7"), 7)
    # a failure says why on stderr: the program's last line, or what kept it from starting
    failed = app.jobdeck("run", "--wait", "--", "sh", "-c", "echo no config >&2; exit 3")
    assert failed.returncode == 3 and failed.stdout.strip() in failed.stderr
    assert "failed: exit status 3: no config" in failed.stderr
    missing = app.jobdeck("run", "--wait", "--", "nosuchprogram-xyz")
    assert missing.returncode == 1 and "executable not found" in missing.stderr
    out = ok(app.jobdeck("run", "--wait", "--json", "--", "false"), 1)
    job = json.loads(out)
    assert job["status"] == "failed" and job["exit_code"] == 1


def test_run_options_reach_the_job(app: Served, tmp_path: Path) -> None:
    first = ok(app.jobdeck("run", "--", "sleep", "0.1")).strip()
    out = ok(
        app.jobdeck(
            "run",
            "--title",
            "Nightly backup",
            "--priority",
            "5",
            "--after",
            first[:20],
            "--cwd",
            str(tmp_path),
            "--env",
            "COLOUR=blue",
            "--timeout",
            "60",
            "--retries",
            "2",
            "--at",
            "+1h",
            "--json",
            "--",
            "printenv",
            "COLOUR",
        )
    )
    job = json.loads(out)
    assert job["title"] == "Nightly backup" and job["priority"] == 5
    assert job["depends_on"] == [first] and job["timeout"] == 60 and job["max_attempts"] == 3
    assert job["params"]["cwd"] == str(tmp_path) and job["params"]["env"] == {"COLOUR": "blue"}
    assert job["run_at_ts"] > time.time() + 3000 and job["status"] == "pending"
    assert job["params"]["argv"][0].endswith("/printenv")  # found on this terminal's PATH
    ok(app.jobdeck("cancel", job["id"]))
    out = ok(
        app.jobdeck(
            "run", "--wait", "--shell", "--json", "--cwd", str(tmp_path), "--",
            "echo $((6*7)) >", "x.txt",
        )
    )  # fmt: skip
    assert json.loads(out)["status"] == "completed"
    assert (tmp_path / "x.txt").read_text() == "42\n"  # one command line, in --cwd


def test_run_follow_shows_output_and_exits_with_the_status(app: Served) -> None:
    script = "for i in 1 2 3; do echo line $i; echo $((i*33))%; sleep 0.2; done; exit 3"
    result = app.jobdeck("run", "--follow", "--", "sh", "-c", script)
    assert result.returncode == 3, result
    assert result.stdout.splitlines() == ["line 1", "33%", "line 2", "66%", "line 3", "99%"]
    assert "failed" in result.stderr


def test_ls_and_show_with_ids_prefixes_and_json(app: Served) -> None:
    job_id = ok(app.jobdeck("run", "--wait", "--title", "listed one", "--", "true")).strip()
    lines = ok(app.jobdeck("ls", "--search", "listed one")).splitlines()
    assert len(lines) == 1 and lines[0].startswith(job_id) and "completed" in lines[0]
    listed = json.loads(ok(app.jobdeck("ls", "--json", "--status", "COMPLETED", "-n", "500")))
    assert job_id in {j["id"] for j in listed} and {j["status"] for j in listed} == {"completed"}
    assert json.loads(ok(app.jobdeck("list", "--json", "--type", "nope"))) == []
    page = ok(app.jobdeck("show", job_id[:22].lower()))
    rows = dict(line.split(None, 1) for line in page.splitlines() if line and " " in line)
    assert rows["id"] == job_id and rows["title"] == "listed one"
    assert "exit status  0" in page
    shown = json.loads(ok(app.jobdeck("show", job_id, "--json")))
    assert shown["id"] == job_id and shown["exit_code"] == 0 and "logs" in shown
    result = app.jobdeck("show", "NOSUCHJOB")
    assert result.returncode == 1 and "no job with id 'NOSUCHJOB'" in result.stderr


def test_cancel_by_id_and_all(app: Served) -> None:
    # the first ignores SIGTERM: still running when the answer comes (a plain `sleep` may
    # have ended, cancelled, by then: "cancelled" is then what is said)
    stubborn = ["sh", "-c", "trap '' TERM; sleep 30"]
    ids = [ok(app.jobdeck("run", "--", *stubborn)).strip()]
    ids += [ok(app.jobdeck("run", "--", "sleep", "30")).strip() for _ in range(2)]
    wait_for(lambda: job_of(app, ids[0])["status"] == "running", 30)
    # a running program is only asked to stop (SIGTERM; killed after the grace period)
    assert ok(app.jobdeck("cancel", ids[0])).strip() == f"asked {ids[0]} to stop (running)"
    wait_for(lambda: job_of(app, ids[0])["status"] == "cancelled", 30)
    later = ok(app.jobdeck("run", "--at", "+1h", "--", "sleep", "30")).strip()
    assert ok(app.jobdeck("cancel", later)).strip() == f"cancelled {later}"  # was queued
    assert job_of(app, later)["status"] == "cancelled"
    result = app.jobdeck("cancel", ids[0])
    assert result.returncode == 1 and "already cancelled" in result.stderr
    out = ok(app.jobdeck("cancel", "--all"))
    assert {line.split()[1] for line in out.splitlines()} >= set(ids[1:])
    for job_id in ids:

        def cancelled(j: str = job_id) -> bool:
            return bool(job_of(app, j)["status"] == "cancelled")

        wait_for(cancelled, 30)
    assert "nothing to cancel" in ok(app.jobdeck("cancel", "--all"))
    assert app.jobdeck("cancel").returncode == 2


def test_retry_one_and_all_failed(app: Served) -> None:
    failed = ok(app.jobdeck("run", "--wait", "--title", "flaky", "--", "false"), 1).strip()
    out = ok(app.jobdeck("retry", failed[:24]))
    old, arrow, new = out.split()[:3]
    assert (old, arrow) == (failed, "->") and job_of(app, new)["retry_of"] == failed
    other = ok(app.jobdeck("run", "--wait", "--", "sh", "-c", "exit 2"), 2).strip()
    again = json.loads(ok(app.jobdeck("retry", "--failed", "--json")))
    assert other in {j["retry_of"] for j in again}
    assert failed not in {j["retry_of"] for j in again}  # run again already
    for job in again:  # each new run fails as its original did (1: it had no exit status)
        ok(app.jobdeck("wait", job["id"]), job_of(app, job["retry_of"])["exit_code"] or 1)


def test_logs_prints_output_follows_it_and_lines_as_json(app: Served) -> None:
    job_id = ok(app.jobdeck("run", "--wait", "--", "sh", "-c", "echo one; echo two")).strip()
    assert ok(app.jobdeck("logs", job_id)) == "one\ntwo\n"
    entries = [json.loads(line) for line in ok(app.jobdeck("logs", job_id, "--json")).splitlines()]
    assert [e["message"] for e in entries] == ["one", "two"]
    assert ok(app.jobdeck("logs", job_id, "--tail", "1")).rstrip().endswith("two")
    slow = ok(app.jobdeck("run", "--", "sh", "-c", "sleep 0.3; echo a; sleep 0.3; echo b")).strip()
    assert ok(app.jobdeck("logs", "-f", slow)) == "a\nb\n"


def test_logs_of_a_program_that_printed_nothing_is_empty(app: Served) -> None:
    """Its log file is created with the first output: none, and ``logs`` prints nothing."""
    job_id = ok(app.jobdeck("run", "--wait", "--", "true")).strip()
    job = job_of(app, job_id)
    assert job["log_path"] is None and job["pid"] is not None
    assert ok(app.jobdeck("logs", job_id)) == ""
    assert ok(app.jobdeck("logs", job_id, "--tail", "5")) == ""
    with app.client() as client, client.stream(f"/api/jobs/{job_id}/output", {}) as page:
        assert page.read() == b"" and page.getheader("X-Output-Size") == "0"


def test_logs_tail_prints_the_last_lines_of_the_output(app: Served) -> None:
    """``--tail N`` is the output's last N lines, progress lines included (those are not log
    lines), also followed and from more than one page."""
    script = "for i in $(seq 1 3000); do echo $i/3000 $(printf '%080d' $i); done; echo done"
    job_id = ok(app.jobdeck("run", "--wait", "--", "sh", "-c", script)).strip()
    whole = ok(app.jobdeck("logs", job_id))
    assert ok(app.jobdeck("logs", job_id, "--tail", "2")) == f"3000/3000 {3000:080d}\ndone\n"
    assert (
        ok(app.jobdeck("logs", job_id, "--tail", "1200")).splitlines()
        == (whole.splitlines()[-1200:])
    )
    assert ok(app.jobdeck("logs", job_id, "--tail", "5000")) == whole
    assert ok(app.jobdeck("logs", job_id, "--tail", "0")) == ""
    assert ok(app.jobdeck("logs", "-f", job_id, "--tail", "1")) == "done\n"


def test_wait_for_several_or_any(app: Served) -> None:
    quick = ok(app.jobdeck("run", "--", "sleep", "0.2")).strip()
    slow = ok(app.jobdeck("run", "--", "sleep", "30")).strip()
    out = ok(app.jobdeck("wait", "--any", quick, slow))
    assert "completed" in out and "running" in out
    result = app.jobdeck("wait", "--timeout", "0.5", quick, slow)
    assert result.returncode == 1 and "still not finished" in result.stderr
    ok(app.jobdeck("cancel", slow))
    result = app.jobdeck("wait", "--json", quick, slow)
    assert result.returncode == 1  # one was cancelled
    assert [j["status"] for j in json.loads(result.stdout)] == ["completed", "cancelled"]


def test_stats_counts_per_status_and_type(app: Served) -> None:
    stats = json.loads(ok(app.jobdeck("stats", "--json")))
    assert stats["total"] == sum(stats["by_status"].values()) > 0
    assert stats["by_type"]["command"]["completed"] >= 1
    table = ok(app.jobdeck("stats"))
    assert table.splitlines()[0].split() == [
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
    ]


def test_stats_of_a_period(app: Served) -> None:
    stats = json.loads(ok(app.jobdeck("stats", "--json", "--period", "7d")))
    assert stats["period"] == "7d"
    command = next(t for t in stats["types"] if t["type"] == "command")
    assert command["runs"] == stats["by_type"]["command"]["completed"] + (
        stats["by_type"]["command"]["failed"] + stats["by_type"]["command"]["cancelled"]
    )
    table = ok(app.jobdeck("stats", "--period", "24h"))
    assert "last 24h" in table and "p90" in table
    assert app.jobdeck("stats", "--period", "week").returncode == 2


def test_usage_errors_exit_2_and_name_the_problem(app: Served) -> None:
    for args, words in [
        (["run"], "give the program to run"),
        (["run", "--env", "NOEQUALS", "--", "true"], "--env takes NAME=VALUE"),
        (["run", "--at", "tea time", "--", "true"], "--at: not a time"),
        (["run", "--cwd", "/no/such/dir", "--", "true"], "/no/such/dir"),
        (["ls", "--status", "done"], "unknown status 'done'"),
        (["run", "--priority", "high", "--", "true"], "invalid int value"),
        (["retry"], "or --failed"),
    ]:
        result = app.jobdeck(*args)
        assert result.returncode == 2, (args, result)
        assert words in result.stderr, (args, result.stderr)


def test_watch_json_prints_one_event_a_line_and_ctrl_c_exits_130(
    app: Served, tmp_path: Path
) -> None:
    # A job runs when watch connects, so its snapshot has a line to read (alone, the test
    # found no job: watch printed nothing and the first read waited for ever).
    gate = tmp_path / "gate"
    waiting = f"while [ ! -e '{gate}' ]; do sleep 0.05; done"
    held = ok(app.jobdeck("run", "--", "sh", "-c", waiting)).strip()
    watch = subprocess.Popen(
        [sys.executable, "-m", "jobdeck", "--db", str(app.db), "watch", "--json"],
        env=app.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())
        assert first["event"] == "snapshot" or "job" in first
        gate.touch()
        job_id = ok(app.jobdeck("run", "--", "sh", "-c", "echo 50%; sleep 0.5")).strip()
        seen: list[dict[str, Any]] = []
        while not any(e["job"]["id"] == job_id and e["job"]["status"] == "completed" for e in seen):
            seen.append(json.loads(watch.stdout.readline()))
        assert any(e["job"]["id"] == job_id and e["job"]["status"] == "running" for e in seen)
        assert any(e["job"]["id"] == held for e in [first, *seen])
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=30) == 130
    finally:
        gate.touch()
        if watch.poll() is None:
            watch.kill()
        watch.communicate()


def test_refusals_name_the_option_the_user_gave_not_the_apis_field(app: Served) -> None:
    """QA: ``run --after TYPO`` said "(depends_on)", ``run --cwd`` "(params.cwd)" and
    ``cancel TYPO`` "(ids)": the API's field names, which the user never typed."""
    result = app.jobdeck("cancel", "nosuchid")
    assert result.returncode == 1
    assert result.stderr == "jobdeck: no job with id 'nosuchid' (nor an id starting with it)\n"
    for args, option in [
        (["run", "--after", "nosuchid", "--", "true"], "(--after)"),
        (["run", "--cwd", "/no/such/dir", "--", "true"], "(--cwd)"),
    ]:
        result = app.jobdeck(*args)
        assert result.returncode == 2, (args, result)
        assert result.stderr.rstrip().endswith(option), (args, result.stderr)


def test_watch_names_an_unknown_job_before_drawing_anything(app: Served) -> None:
    """QA: ``jobdeck watch --job TYPO`` drew the table ("no job is running") and printed
    the error after it, on the same line when not on a terminal."""
    for extra in ((), ("--json",)):
        result = app.jobdeck("watch", *extra, "--job", "nosuchid", timeout=30)
        assert (result.returncode, result.stdout) == (1, ""), result
        assert result.stderr == "jobdeck: no job with id 'nosuchid' (nor an id starting with it)\n"


def test_follow_interrupted_without_a_terminal_leaves_the_job_running(app: Served) -> None:
    follow = subprocess.Popen(
        [*JOBDECK, "--db", str(app.db), "run", "--follow", "--", "sh", "-c", "echo go; sleep 30"],
        env=app.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follow.stdout is not None and follow.stderr is not None
    job_id = follow.stderr.readline().strip()  # --follow says the new id on stderr
    assert follow.stdout.readline() == "go\n"
    wait_for(lambda: job_of(app, job_id)["status"] == "running", 30)
    follow.send_signal(signal.SIGINT)
    _, err = follow.communicate(timeout=30)
    assert follow.returncode == 130 and "keeps running" in err
    assert job_of(app, job_id)["status"] == "running"
    ok(app.jobdeck("cancel", job_id))


def test_the_client_loads_neither_qt_nor_aiohttp(app: Served) -> None:
    code = (
        "import sys\n"
        "from jobdeck.cli import main\n"
        f"status = main(['--db', {str(app.db)!r}, 'run', '--wait', '--', 'true'])\n"
        "print(status, sorted(m for m in ('PySide6', 'aiohttp', 'rich', 'peewee') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=app.env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "0 []", result


# -- without the app, and across restarts ---------------------------------------------------


def test_without_the_app_reads_work_and_changes_say_so(runtime: Path, tmp_path: Path) -> None:
    served = Served(runtime, tmp_path / "jobs.db").start()
    job_id = ok(served.jobdeck("run", "--wait", "--", "sh", "-c", "echo kept; echo 2/2")).strip()
    served.stop()
    assert job_id in ok(served.jobdeck("ls"))  # read-only, from the store
    assert json.loads(ok(served.jobdeck("show", job_id, "--json")))["status"] == "completed"
    assert ok(served.jobdeck("logs", job_id)) == "kept\n2/2\n"
    assert ok(served.jobdeck("logs", job_id, "--tail", "1")) == "2/2\n"  # of the output
    assert "completed" in ok(served.jobdeck("wait", job_id))  # finished: needs no app
    stats = json.loads(ok(served.jobdeck("stats", "--json")))  # per type too, as the app's
    assert stats["by_type"] == {
        "command": {"pending": 0, "running": 0, "completed": 1, "failed": 0, "cancelled": 0}
    }
    assert ok(served.jobdeck("stats")).splitlines()[2].split() == [
        "command",
        "0",
        "0",
        "1",
        "0",
        "0",
    ]
    result = served.jobdeck("--no-start", "run", "--", "true")
    assert result.returncode == 3 and "not running" in result.stderr
    result = served.jobdeck("cancel", "--all", JOBDECK_NO_AUTOSTART="1")
    assert (result.returncode, result.stdout) == (
        0,
        "nothing to cancel: no job is pending or running\n",
    )
    result = served.jobdeck("retry", job_id, JOBDECK_NO_AUTOSTART="1")
    assert result.returncode == 3 and "not running" in result.stderr
    with JobTracker.open(tmp_path / "jobs.db", read_only=True) as store:
        assert store.count_jobs() == 1  # nothing was queued


def test_a_command_starts_the_app_when_none_runs(runtime: Path, tmp_path: Path) -> None:
    served = Served(runtime, tmp_path / "jobs.db")
    result = served.jobdeck("run", "--wait", "--", "true", timeout=120)
    assert result.returncode == 0, result
    assert "starting Jobdeck (jobdeck serve)" in result.stderr
    with served.client() as client:
        info = client.info()
    try:
        assert info["gui"] is False and info["db"] == str(tmp_path / "jobs.db")
        assert ok(served.jobdeck("--no-start", "ls")).count("completed") == 1
    finally:
        os.kill(info["pid"], signal.SIGTERM)
        wait_for(lambda: not served.paths.socket.exists(), 30, "the started app to quit")


def test_restart_second_serve_and_two_stores_side_by_side(runtime: Path, tmp_path: Path) -> None:
    one = Served(runtime, tmp_path / "one.db").start()
    two = Served(runtime, tmp_path / "two.db").start()
    try:
        a = ok(one.jobdeck("run", "--wait", "--title", "in one", "--", "true")).strip()
        b = ok(two.jobdeck("run", "--wait", "--title", "in two", "--", "true")).strip()
        assert a in ok(one.jobdeck("ls")) and b not in ok(one.jobdeck("ls"))
        assert b in ok(two.jobdeck("ls")) and a not in ok(two.jobdeck("ls"))
        again = subprocess.run(
            [sys.executable, "-m", "jobdeck", "--db", str(one.db), "serve"],
            env=one.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 1 and "already runs on this store" in again.stderr
        one.stop()
        one.start()  # a restart: the history is there and new jobs run
        assert a in ok(one.jobdeck("ls"))
        ok(one.jobdeck("run", "--wait", "--", "true"))
    finally:
        for served in (one, two):
            if served.proc is not None:
                served.stop()


def test_output_is_paged_by_offset(app: Served) -> None:
    script = "for i in $(seq 1 3000); do echo line-$i-$(printf '%080d' $i); done"
    job_id = ok(app.jobdeck("run", "--wait", "--", "sh", "-c", script)).strip()
    whole = ok(app.jobdeck("logs", job_id))
    assert whole.count("\n") == 3000 and whole.endswith(f"line-3000-{3000:080d}\n")
    pieces, offset = [], 0
    with app.client() as client:
        while True:
            page = client.stream(f"/api/jobs/{job_id}/output", {"offset": offset, "limit": 50_000})
            with page:
                data = page.read()
                assert int(page.getheader("X-Next-Offset") or 0) == offset + len(data)
                size = int(page.getheader("X-Output-Size") or 0)
            pieces.append(data)
            offset += len(data)
            if offset >= size:
                break
    assert len(pieces) >= 5 and b"".join(pieces).decode() == whole


def test_opening_the_window_while_serve_runs_says_there_is_none(app: Served) -> None:
    result = app.jobdeck()  # `jobdeck --db DB`: the desktop app, on a store `serve` holds
    assert result.returncode == 1
    assert "already runs on this store without a window (jobdeck serve" in result.stderr
