"""A real PostgreSQL server for tests and benchmarks, in a temporary directory.

:class:`PgServer` finds PostgreSQL's programs (on ``PATH``, or where Debian installs them:
``/usr/lib/postgresql/<version>/bin``), creates a cluster with ``initdb`` and starts it on a
free TCP port on 127.0.0.1 and a Unix socket in the same directory. ``initdb`` and
``postgres`` refuse to run as root, so as root they run as ``nobody`` (``runuser``), in a
directory that user owns. Connections over the socket are trusted; over TCP they need the
password (so a test can give a wrong one). Each test gets a database of its own
(:meth:`PgServer.new_database`). :meth:`restart` stops and starts the server (a fault test).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

__all__ = ["PgServer", "find_pg_bin"]

SUPERUSER = "jobdeck"
PASSWORD = "s3cret-test-pass"


def find_pg_bin() -> Path | None:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates: list[str] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if all(os.access(Path(folder) / p, os.X_OK) for p in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster in a temporary directory (see the module)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="jobdeck-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "nobody", "--"]
            os.chown(self.root, 65534, 65534)
        os.chmod(self.root, 0o755)

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            [*self._as_user, *argv],
            check=check,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            timeout=120,
        )

    def start(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_user:
            os.chown(pwfile, 65534, 65534)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        self.start_again()

    def start_again(self) -> None:
        """Start the (stopped) server on the same port and socket."""
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False
        )

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the server (closing every connection), wait ``down_for`` s, start it again."""
        self.stop("fast")
        if down_for:
            time.sleep(down_for)
        self.start_again()

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------------

    def url(self, database: str, *, password: str | None = None) -> str:
        """A URL of ``database``: over the Unix socket (trusted), or over TCP with
        ``password``."""
        if password is None:
            return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; returns its URL (over the socket)."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with contextlib.closing(
            psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10)
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
