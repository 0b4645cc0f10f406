"""A built wheel carries the resources (icons, shell helper) that the app looks up at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_icons_and_entry_point(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ or egg-info and runs cannot collide.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for name in ("desktop", "resources"):
        shutil.copytree(
            ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("jobdeck-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    icons = {p.name for p in (ROOT / "resources" / "icons").glob("*.svg")}
    assert icons and {f"jobdeck/resources/icons/{n}" for n in icons} <= names
    board = {p.name for p in (ROOT / "desktop" / "jobdeck" / "api" / "static").iterdir()}
    assert {"index.html", "board.js"} <= board  # the browser board, served by the app
    assert {f"jobdeck/api/static/{n}" for n in board} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "jobdeck = jobdeck.cli:main" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: MIT" in zipfile.ZipFile(wheel).read(metadata).decode()
