"""The ``jobdeck`` command's read-only views of the store when the app does not run (the
commands against a running app: tests/api/test_cli_commands.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jobdeck.api.lookup
from jobdeck.cli import main
from jobdeck.core import JobStatus, JobTracker
from jobdeck.ui.formatting import format_percent

DESKTOP = Path(__file__).resolve().parents[1] / "desktop"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.db"
    with JobTracker.open(path) as tracker:
        ctx = tracker.create_job("scrape", title="Scrape @x")
        ctx.update_progress(5, 10, "halfway")
        ctx.log("hello")
        tracker.complete_job(ctx.job_id, result={"n": 3})
        tracker.enqueue("command", {"argv": ["true"]}, title="later")
    return path


def test_list(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "later" in lines[0] and "pending" in lines[0]
    assert "completed" in lines[1] and "  50%  " in lines[1]  # as the UI shows it
    assert main(["--db", str(db), "list", "--status", "completed"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_show(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with JobTracker.open(db, read_only=True) as reader:
        job_id = reader.list_jobs(status="completed")[0].id
    assert main(["--db", str(db), "show", job_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "completed" and data["result"] == {"n": 3}
    assert [(e["level"], e["message"]) for e in data["logs"]] == [("info", "hello")]
    assert main(["--db", str(db), "show", job_id]) == 0
    page = capsys.readouterr().out
    assert "status    completed" in page and "Scrape @x" in page and "info    hello" in page


def test_show_says_cancel_requested_only_while_the_job_still_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cancelled job's page read "cancelled (cancel requested)" (QA sweep)."""
    db = tmp_path / "jobs.db"
    with JobTracker.open(db) as tracker:
        ctx = tracker.create_job("scrape", title="Scrape")
        tracker.cancel_job(ctx.job_id)
        assert main(["--db", str(db), "show", ctx.job_id]) == 0
        assert "status    running (cancel requested)\n" in capsys.readouterr().out
        tracker.mark_cancelled(ctx.job_id)
    assert main(["--db", str(db), "show", ctx.job_id]) == 0
    assert "status    cancelled\n" in capsys.readouterr().out


def test_errors_are_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    assert main(["--db", str(missing), "list"]) == 1
    assert "does not exist" in capsys.readouterr().err
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not sqlite at all, really not" * 10)
    assert main(["--db", str(garbage), "list"]) == 1
    assert "not a SQLite database" in capsys.readouterr().err
    assert main(["--db", str(garbage), "show", "x"]) == 1
    assert main(["--db", str(garbage), "list", "--status", "bogus"]) == 2  # usage


def test_a_fresh_install_has_no_jobs_yet_rather_than_a_missing_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: before Jobdeck first ran, ``jobdeck ls`` (and ``ls --json``, ``stats``) failed
    with "jobs.db does not exist, so it cannot be opened read-only" (exit 1). The default
    store that is not there yet has no jobs; a store named with --db must exist."""
    monkeypatch.delenv("JOBDECK_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert main(["ls"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["ls", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0
    assert main(["show", "01ABC"]) == 1
    assert "no job with id '01ABC'" in capsys.readouterr().err
    assert not (tmp_path / "share").exists()  # reading made no store
    assert main(["--db", str(tmp_path / "typo.db"), "ls"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cancel_all_with_no_app_and_nothing_queued_or_running_starts_no_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: ``jobdeck cancel --all`` with no app running started one in the tray only to say
    "nothing to cancel", and left it running. With nothing queued or running in the store
    it now says so at once; a job queued there still needs the app, which is started."""
    import jobdeck.api.launch

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("JOBDECK_NO_AUTOSTART", raising=False)
    started: list[object] = []

    def start_app(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise jobdeck.api.launch.StartFailed("not in this test")

    monkeypatch.setattr(jobdeck.api.launch, "start_app", start_app)
    db = tmp_path / "jobs.db"
    with JobTracker.open(db) as tracker:
        ctx = tracker.create_job("scrape", title="done already")
        tracker.complete_job(ctx.job_id)
    assert main(["--db", str(db), "cancel", "--all"]) == 0
    out, err = capsys.readouterr()
    assert out == "nothing to cancel: no job is pending or running\n" and err == ""
    assert started == []
    with JobTracker.open(db) as tracker:
        tracker.enqueue("command", {"argv": ["true"]}, title="queued")
    assert main(["--db", str(db), "cancel", "--all"]) == 3  # (the app could not start here)
    assert len(started) == 1
    assert "could not start Jobdeck: not in this test" in capsys.readouterr().err


def test_list_shows_percentages_as_the_ui_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "jobs.db"
    with JobTracker.open(db) as tracker:
        for title, (current, total) in {
            "slow start": (9, 200),
            "half": (1, 2),
            "almost": (999, 1000),
            "unknown": (7, 0),
        }.items():
            ctx = tracker.create_job("work", title=title)
            ctx.update_progress(current, total)
            tracker.complete_job(ctx.job_id, success=False, error="stopped")
    assert main(["--db", str(db), "list"]) == 0
    shown = {line.split()[-1]: line.split()[2] for line in capsys.readouterr().out.splitlines()}
    assert shown == {"start": "4.5%", "half": "50%", "almost": "99%", "unknown": "\u2014"}
    assert sorted(format_percent(p) for p in (4.5, 50.0, 99.9, None)) == sorted(shown.values())


def test_status_filter_accepts_any_case(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for given in ("Completed", "COMPLETED", " completed "):
        assert main(["--db", str(db), "list", "--status", given]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and "completed" in lines[0], given
    assert main(["--db", str(db), "list", "--status", "Pending"]) == 0
    assert "later" in capsys.readouterr().out


def test_a_bad_status_lists_the_valid_ones(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "list", "--status", "done"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jobdeck: unknown status 'done'")
    assert "pending, running, completed, failed, cancelled" in err
    assert all(s.value in err for s in JobStatus)


@pytest.fixture
def five_jobs(tmp_path: Path) -> tuple[Path, list[str]]:
    """Five jobs made one after the other: their ids share long prefixes."""
    db = tmp_path / "jobs.db"
    with JobTracker.open(db) as tracker:
        ids = [tracker.create_job("work", title=f"job {i}").job_id for i in range(5)]
    return db, ids


def show(db: Path, capsys: pytest.CaptureFixture[str], text: str) -> tuple[int, str, str]:
    status = main(["--db", str(db), "show", text, "--json"])
    out, err = capsys.readouterr()
    return status, out, err


def test_show_accepts_a_unique_id_prefix_in_any_case_and_refuses_an_ambiguous_one(
    five_jobs: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, ids = five_jobs
    monkeypatch.setattr(jobdeck.api.lookup, "PREFIX_PAGE", 2)  # the search pages through the store
    checked: set[tuple[str, int]] = set()
    for job_id in ids:
        for n in range(1, len(job_id) + 1):
            prefix = job_id[:n]
            matching = [i for i in ids if i.startswith(prefix)]
            if len(matching) in {k for p, k in checked if prefix.startswith(p)}:
                continue  # the shortest prefix with this many matches is enough
            checked.add((prefix, len(matching)))
            for text in {prefix, prefix.lower()}:
                status, out, err = show(db, capsys, text)
                if len(matching) == 1:
                    assert status == 0, err
                    assert json.loads(out)["id"] == job_id
                else:
                    assert (status, out) == (2, ""), text  # usage: give more of the id
                    assert err.startswith(
                        f"jobdeck: id prefix {text!r} matches {len(matching)} jobs ("
                    ), err
                    assert all(i in err for i in matching) and "give more of the id" in err
    counts = {k for _, k in checked}
    assert 1 in counts and 5 in counts and len(counts) >= 3  # unique, all, and in between


def test_show_an_unknown_id_or_prefix_is_a_clear_error(
    five_jobs: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, ids = five_jobs
    for text in ("ZZZZ", ids[0] + "X", "not an id"):
        status, out, err = show(db, capsys, text)
        assert (status, out) == (1, "")
        assert err == f"jobdeck: no job with id {text!r} (nor an id starting with it)\n"


def test_terminal_commands_do_not_load_qt(db: Path) -> None:
    code = (
        "import sys\n"
        "from jobdeck.cli import main\n"
        f"assert main(['--db', {str(db)!r}, 'list']) == 0\n"
        "print('PySide6' in sys.modules or 'aiohttp' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(DESKTOP)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "False"


def test_install_desktop_adds_and_removes_the_menu_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    entry = tmp_path / "share" / "applications" / "jobdeck.desktop"
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "jobdeck.svg"
    assert main(["install-desktop"]) == 0
    assert entry.is_file() and icon.is_file()
    assert "Exec=" in entry.read_text() and "%U" not in entry.read_text()
    assert str(entry) in capsys.readouterr().out
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not entry.exists() and not icon.exists()
    assert main(["install-desktop", "--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_start_times_for_run_at() -> None:
    from datetime import datetime

    from jobdeck.cli.times import parse_start_time

    now = datetime(2030, 5, 1, 12, 0, 0).timestamp()
    assert parse_start_time("+90s", now) == now + 90
    assert parse_start_time("+5m", now) == now + 300
    assert parse_start_time("+2h", now) == now + 7200
    assert parse_start_time("13:30", now) == datetime(2030, 5, 1, 13, 30).timestamp()
    assert parse_start_time("11:00", now) == datetime(2030, 5, 2, 11, 0).timestamp()  # tomorrow
    assert parse_start_time("2030-06-01T08:00", now) == datetime(2030, 6, 1, 8).timestamp()
    for bad in ("soon", "25:00", "+", "12:61"):
        with pytest.raises(ValueError, match="not a time"):
            parse_start_time(bad, now)


def test_the_watch_view_draws_progress_bars_eta_and_unknown_totals() -> None:
    import time

    from rich.console import Console

    from jobdeck.api.jsonify import job_to_json
    from jobdeck.cli.watch import _LiveView
    from jobdeck.core import Job, JobStatus, Progress

    now = time.time()
    view = _LiveView()
    view.update(
        job_to_json(
            Job("A1", "command", "Render frames", JobStatus.RUNNING, now - 30,
                progress=Progress(60, 240, "frame 60"), started_ts=now - 30)
        )
    )  # fmt: skip
    view.update(
        job_to_json(
            Job("A2", "command", "Index mail", JobStatus.RUNNING, now - 5,
                progress=Progress(3, 0, "scanning"), started_ts=now - 5)
        )
    )  # fmt: skip
    console = Console(record=True, width=120, color_system=None)
    console.print(view.render())
    text = console.export_text()
    assert "Render frames — frame 60" in text and "25%" in text and "1m 30s" in text  # ETA
    assert "Index mail — scanning" in text and "\u2014" in text  # unknown total
    assert "running" in text


def test_a_board_url_lists_its_jobs_and_a_bad_one_names_the_host(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--db postgresql://...``: the terminal commands read a board (no app runs on it
    here, so they open it read-only); a server that cannot be reached is named, its
    password never."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    with JobTracker.open(pg_url, instance="desk") as tracker:
        tracker.enqueue("command", {"argv": ["true"]}, title="on the board")
    assert main(["--db", pg_url, "--no-start", "list"]) == 0
    assert "on the board" in capsys.readouterr().out
    bad = "postgresql://jobdeck:topsecret@127.0.0.1:1/jobs"
    assert main(["--db", bad, "--no-start", "list"]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1, port 1" in err and "topsecret" not in err


def test_peewee_keeps_its_postgresql_support_for_a_board(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobdeck.cli.sqlite_only import names_a_board

    monkeypatch.delenv("JOBDECK_DB", raising=False)
    assert names_a_board("postgresql://me@db.example/jobs")
    assert names_a_board("Postgres://me@db.example/jobs")
    assert not names_a_board("/home/me/jobs.db") and not names_a_board(None)
    assert not names_a_board("postgresql-notes.db")
    monkeypatch.setenv("JOBDECK_DB", "postgresql://me@db.example/jobs")
    assert names_a_board(None)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--db", "ls"],  # a value, not the command
        ["--tray", "--demo", "-v", "--no-start"],
        ["--listen", "0", "--listen-address", "127.0.0.1", "--dask", "tcp://s:8786"],
        ["--listen=8765", "--db=jobs.db"],
    ],
)
def test_the_desktop_apps_options_parse_the_same_without_the_subcommands_built(
    argv: list[str],
) -> None:
    from jobdeck.cli.parser import build_parser, names_a_command

    assert not names_a_command(argv)
    full = build_parser()
    assert vars(build_parser(argv).parse_args(argv)) == vars(full.parse_args(argv))
    assert build_parser(argv).format_usage() == full.format_usage()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--db", "jobs.db"],
        ["--db=/tmp/a b.db"],
        ["--tray", "--db", "ls"],  # a value, not the command
        ["--demo", "--tray", "--db=postgresql://u@h/db"],
    ],
)
def test_the_desktop_apps_usual_options_are_read_as_the_parser_reads_them(
    argv: list[str],
) -> None:
    """Read without argparse (the window's start does not wait for it): the same names and
    values as the full parser's."""
    from jobdeck.cli.desktop_args import read_desktop_args
    from jobdeck.cli.parser import build_parser

    quick = read_desktop_args(argv)
    assert quick is not None
    assert vars(quick) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["ls"],
        ["-h"],
        ["--version"],
        ["-v"],
        ["--tr"],  # an abbreviation
        ["--listen", "0"],
        ["--db"],  # no value: the parser's error
        ["--db", "-v"],
        ["--db="],
        ["--db", "a", "--db", "b"],
        ["--tray", "--tray"],
        ["--db", "x", "show", "1"],
    ],
)
def test_anything_else_is_left_to_the_full_parser(argv: list[str]) -> None:
    from jobdeck.cli.desktop_args import read_desktop_args

    assert read_desktop_args(argv) is None


def test_a_value_missing_after_db_is_still_the_parsers_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--db"])
    assert exited.value.code == 2
    assert "expected one argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["ls"], ["--db", "x", "show", "1"], ["-h"], ["-vh"], ["--help"], ["-"], ["--"]]
)
def test_a_command_or_help_gets_the_whole_parser(argv: list[str]) -> None:
    from jobdeck.cli.parser import names_a_command

    assert names_a_command(argv)


def test_an_unknown_command_is_still_named_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--db", "x.db", "frobnicate"])
    assert exited.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_show_says_when_a_job_queued_for_later_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jobdeck run --at +1h -- ...` then `jobdeck show`: the page says when it starts."""
    import time

    from jobdeck.ui.formatting import format_local_time

    db = tmp_path / "jobs.db"
    at = time.time() + 3600
    with JobTracker.open(db) as tracker:
        later = tracker.enqueue("command", {"argv": ["true"]}, title="tonight", run_at=at)
        now = tracker.enqueue("command", {"argv": ["true"]}, title="now")
    assert main(["--db", str(db), "show", later.id]) == 0
    assert f"\nstarts    {format_local_time(at)}\n" in capsys.readouterr().out
    assert main(["--db", str(db), "show", now.id]) == 0
    assert "starts" not in capsys.readouterr().out
