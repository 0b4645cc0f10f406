"""Where a store's socket lives: the same for the app and every command, per store, and
never in a directory someone else could have prepared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobdeck.api.paths import ApiPaths, store_key, store_path
from jobdeck.core import default_db_path
from jobdeck.runtime.runtime_dir import find_runtime_dir


def test_the_default_store_is_the_cores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JOBDECK_DB", raising=False)
    assert store_path(None) == default_db_path()
    monkeypatch.setenv("JOBDECK_DB", str(tmp_path / "env.db"))
    assert store_path(None) == default_db_path() == tmp_path / "env.db"
    assert store_path(":memory:") is None


def test_one_key_per_store_however_it_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        store_key("jobs.db")
        == store_key(tmp_path / "jobs.db")
        == store_key(f"{tmp_path}/./jobs.db")
    )
    assert store_key("jobs.db") != store_key("other.db")
    assert len(store_key("jobs.db")) == 12


def test_the_quick_way_finds_what_the_runtime_dir_rules_choose(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    first = ApiPaths.for_store("/tmp/a.db")  # nothing there yet: the full rules
    assert first.directory == find_runtime_dir().path / "jobdeck"
    first.make_directory()
    assert ApiPaths.for_store("/tmp/a.db") == first  # now the quick way, same answer


@pytest.mark.parametrize("where", ["runtime", "jobdeck"])
def test_a_directory_others_can_write_to_is_not_taken_the_quick_way(
    runtime: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import jobdeck.api.paths as paths_module

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    (runtime / "jobdeck").mkdir(mode=0o700)
    assert paths_module._ready_runtime_dir() == runtime / "jobdeck"
    os.chmod(runtime if where == "runtime" else runtime / "jobdeck", 0o777)
    assert paths_module._ready_runtime_dir() is None  # the full rules decide (and refuse)
