"""The ``jobdeck`` command's terminal subcommands (read-only views of the store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobdeck.cli import main
from jobdeck.core import JobTracker


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
    assert "completed" in lines[1] and " 50.0%" in lines[1]
    assert main(["--db", str(db), "list", "--status", "completed"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_show(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with JobTracker.open(db, read_only=True) as reader:
        job_id = reader.list_jobs(status="completed")[0].id
    assert main(["--db", str(db), "show", job_id]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "completed" and data["result"] == {"n": 3}
    assert data["logs"] == ["info: hello"]


def test_errors_are_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    assert main(["--db", str(missing), "list"]) == 1
    assert "does not exist" in capsys.readouterr().err
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not sqlite at all, really not" * 10)
    assert main(["--db", str(garbage), "list"]) == 1
    assert "not a SQLite database" in capsys.readouterr().err
    assert main(["--db", str(garbage), "show", "x"]) == 1
    assert main(["--db", str(garbage), "list", "--status", "bogus"]) == 1
