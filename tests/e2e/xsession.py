"""A virtual X session for end-to-end runs: Xvfb, an optional tray host and compositor, the
real ``jobdeck`` process, and screen grabs. Used by the e2e tests and scripts/screenshot.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "desktop"


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class XSession:
    """Xvfb on a free display (with trayer and xcompmgr when installed), torn down on exit."""

    def __init__(self, size: str = "1280x800", tray: bool = True, compositor: bool = True):
        if shutil.which("Xvfb") is None:
            raise RuntimeError("Xvfb is not installed (bash scripts/install-debian-deps.sh)")
        self.size = size
        self.number = -1  # Xvfb picks a free display (-displayfd): parallel runs never clash
        self.display = ""
        self.procs: list[subprocess.Popen[bytes]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="jobdeck-x-"))
        self.want_tray = tray
        self.want_compositor = compositor

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DISPLAY=self.display,
            QT_QPA_PLATFORM="xcb",
            XDG_CONFIG_HOME=str(self.tmp / "config"),
            XDG_DATA_HOME=str(self.tmp / "data"),
            XDG_RUNTIME_DIR=str(self.tmp / "runtime"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(DESKTOP), env.get("PYTHONPATH")])),
        )
        (self.tmp / "runtime").mkdir(mode=0o700, exist_ok=True)
        env.update(extra)
        return env

    def __enter__(self) -> XSession:
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            [
                *("Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp"),
                *("-screen", "0", f"{self.size}x24"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self.procs.append(xvfb)
        with os.fdopen(read_fd) as reader:  # Xvfb writes its display number when ready
            number = reader.readline().strip()
        if not number.isdigit():
            xvfb.kill()
            raise RuntimeError(f"Xvfb did not start (exit status {xvfb.wait()})")
        self.number = int(number)
        self.display = f":{self.number}"
        if self.want_compositor and shutil.which("xcompmgr"):
            self.procs.append(subprocess.Popen(["xcompmgr"], env=self.env()))
        if self.want_tray and shutil.which("trayer"):
            self.procs.append(
                subprocess.Popen(
                    [
                        "trayer",
                        "--edge",
                        "top",
                        "--align",
                        "right",
                        "--widthtype",
                        "request",
                        "--height",
                        "28",
                        "--transparent",
                        "false",
                        "--tint",
                        "0x303030",
                    ],
                    env=self.env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def launch_jobdeck(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Start the real app (``python -m jobdeck``) on this display."""
        return subprocess.Popen(
            [sys.executable, "-m", "jobdeck", *args],
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def window_names(self) -> list[str]:
        """Names of the mapped top-level windows (xwininfo)."""
        out = subprocess.run(
            ["xwininfo", "-root", "-tree"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return [line.split('"')[1] for line in out.splitlines() if line.count('"') >= 2]

    def grab(self, path: Path) -> Path:
        """Save a PNG of the whole screen."""
        code = (
            "import sys\n"
            "from PySide6.QtGui import QGuiApplication\n"
            "app = QGuiApplication(sys.argv)\n"
            "ok = app.primaryScreen().grabWindow(0).save(sys.argv[1])\n"
            "sys.exit(0 if ok else 1)\n"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-c", code, str(path)], env=self.env(), check=True, timeout=30
        )
        return path


def stop(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str, str]:
    """SIGTERM the app and collect its exit status and output."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise
    return proc.returncode, out, err


@contextlib.contextmanager
def running_app(session: XSession, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    proc = session.launch_jobdeck(*args, **env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
