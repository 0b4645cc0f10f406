"""The menu entry installed into a temporary XDG data dir, and the packaging metadata,
checked by the freedesktop validators."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.platform import desktop_entry
from jobdeck.platform.desktop_entry import (
    install_desktop_entry,
    jobdeck_command,
    render_desktop_entry,
)

from .conftest import need_tool

ROOT = Path(__file__).resolve().parents[2]
ICON = ROOT / "resources" / "icons" / "jobdeck.svg"


def validate_desktop_file(path: Path) -> None:
    tool = need_tool("desktop-file-validate", "desktop-file-utils")
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    # Exit 0 allows hints; hold our files to no remarks at all.
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser["Desktop Entry"]


def test_install_into_xdg_data_home_and_uninstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    written = install_desktop_entry()
    entry = data / "applications" / "jobdeck.desktop"
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "jobdeck.svg"
    assert written == [entry, icon]
    validate_desktop_file(entry)
    assert icon.read_bytes() == ICON.read_bytes()
    assert oct(entry.stat().st_mode & 0o777) == "0o644"
    fields = read_entry(entry)
    assert fields["Icon"] == "jobdeck"
    argv = shlex.split(fields["Exec"])
    assert "%" not in fields["Exec"]  # no %U: Jobdeck refuses files and URLs
    assert os.path.isabs(argv[0]) and os.access(argv[0], os.X_OK)
    assert argv == jobdeck_command()

    # Installing again (an upgrade) replaces both files and leaves nothing else behind.
    entry.write_text("stale")
    install_desktop_entry()
    validate_desktop_file(entry)
    assert sorted(p.name for p in entry.parent.iterdir()) == ["jobdeck.desktop"]

    assert install_desktop_entry(uninstall=True) == [entry, icon]
    assert not entry.exists() and not icon.exists()
    assert install_desktop_entry(uninstall=True) == []  # nothing left to remove


def test_the_installed_entry_starts_this_jobdeck(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the Exec line as a menu would (with --version, so no window opens)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    [entry, _icon] = install_desktop_entry()
    argv = shlex.split(read_entry(entry)["Exec"])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "desktop"), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([*argv, "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("jobdeck ")


def test_a_relative_xdg_data_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    [entry, icon] = install_desktop_entry()
    assert entry == tmp_path / ".local" / "share" / "applications" / "jobdeck.desktop"
    assert icon.is_file()


def test_odd_paths_are_quoted_as_the_spec_says(tmp_path: Path) -> None:
    command = [f'{tmp_path}/My Apps/job$deck "100%"/jobdeck', "--db", "a\\b"]
    entry = tmp_path / "jobdeck.desktop"
    entry.write_text(render_desktop_entry(command))
    validate_desktop_file(entry)
    line = read_entry(entry)["Exec"]
    # Undo the file's string escapes and the field-code escape; the spec's quoting is the
    # shell's double quoting, so a real shell must split it back into the same arguments.
    exec_value = line.replace("\\\\", "\\").replace("%%", "%")
    done = subprocess.run(
        ["sh", "-c", f"printf '%s\\0' {exec_value}"], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split("\0")[:-1] == command
    with pytest.raises(ValueError, match="command to put in Exec is empty"):
        render_desktop_entry([])


def test_the_command_prefers_the_running_script_then_path_then_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "venv" / "bin" / "jobdeck"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert jobdeck_command() == [str(script)]

    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setenv("PATH", str(script.parent))
    assert jobdeck_command() == [str(script)]

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert jobdeck_command() == [sys.executable, "-m", "jobdeck"]

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert jobdeck_command() == [str(Path(sys.executable).absolute())]


def test_a_missing_icon_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desktop_entry, "__file__", str(tmp_path / "jobdeck" / "platform" / "x.py"))
    with pytest.raises(FileNotFoundError, match=r"icon jobdeck\.svg was not found"):
        install_desktop_entry(data_dir=tmp_path / "data")
    assert not (tmp_path / "data" / "applications").exists()


def test_the_packaged_desktop_file_matches_the_installed_one() -> None:
    packaged = ROOT / "packaging" / "jobdeck.desktop"
    assert packaged.read_text() == render_desktop_entry(["jobdeck"])
    validate_desktop_file(packaged)


def test_the_appstream_metainfo_validates() -> None:
    tool = need_tool("appstreamcli", "appstream")
    metainfo = ROOT / "packaging" / "io.github.jobdeck.Jobdeck.metainfo.xml"
    done = subprocess.run(
        [tool, "validate", "--no-net", str(metainfo)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "W:" not in done.stdout and "E:" not in done.stdout, done.stdout
