"""Start and supervise one external process: its output, its exit, and killing its whole tree.

No Qt here: plain threads and psutil, so the Runner can wrap it however it likes.

A :class:`ProcessHandle` owns one child started in its own session (so its own process
group). Two daemon threads per child:

* the *waiter* blocks in ``waitpid`` and records the exit status;
* the *reader* reads the merged stdout+stderr pipe, appends the raw bytes to the log file,
  splits them into text lines with :class:`OutputSplitter` (``\\n``, ``\\r\\n`` and bare
  ``\\r``, so tqdm redraws become lines; ANSI escapes stripped) and calls ``on_line`` for
  each non-blank one. Once the output is at EOF and the process
  has exited it builds the :class:`ProcessResult` and calls ``on_exit`` exactly once.

If the process exits while a background descendant still holds the output pipe open (for
example ``sh -c 'server &'``), the reader keeps reading for ``drain_timeout`` seconds, then
stops reading (closing its end of the pipe) and reports the exit anyway, so a job never
stays "running" because of a daemonised grandchild.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psutil

from .output_progress import OutputSplitter

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "TAIL_LINES",
    "ProcessHandle",
    "ProcessResult",
    "ProcessStartError",
]

_log = logging.getLogger(__name__)

TAIL_LINES = 20
"""How many of the last output lines a :class:`ProcessResult` keeps."""

DEFAULT_DRAIN_TIMEOUT = 2.0
"""Seconds to keep reading output after the process exited, before giving up on EOF."""

_READ_CHUNK = 64 * 1024
_MAX_LINE_BYTES = 64 * 1024  # a longer "line" is cut, so memory stays bounded
_SHELL = "/bin/sh"


class ProcessStartError(Exception):
    """The process could not be started; the message says why, in words a person can act on."""


@dataclass(frozen=True)
class ProcessResult:
    """How a process ended.

    ``exit_code`` is set when it exited by itself, ``signal`` when a signal killed it (then
    ``exit_code`` is None). ``tail`` holds the last :data:`TAIL_LINES` non-blank output lines.
    ``killed_by_us`` is True when :meth:`ProcessHandle.terminate_tree` or
    :meth:`ProcessHandle.kill_tree` was called while the process was still running.
    """

    exit_code: int | None
    signal: int | None
    tail: tuple[str, ...]
    killed_by_us: bool


class ProcessHandle:
    """A child process in its own session/process group, its stdout+stderr (merged) appended
    to a log file.

    Create one with :meth:`spawn`. ``on_line`` and ``on_exit`` are called on the handle's
    reader thread, never on the caller's thread; ``on_exit`` exactly once, after the last
    ``on_line``. Methods are safe to call from any thread.
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        *,
        argv: Sequence[str],
        log_file: BinaryIO,
        log_path: Path,
        on_line: Callable[[str], None] | None,
        on_exit: Callable[[ProcessResult], None] | None,
        drain_timeout: float,
    ) -> None:
        """Internal: use :meth:`spawn`."""
        self._popen = popen
        self.argv: tuple[str, ...] = tuple(argv)
        self.log_path: Path = log_path
        self.pid: int = popen.pid
        # start_new_session=True makes the child a session and group leader: pgid == pid.
        self.pgid: int = popen.pid
        self._psutil_process: psutil.Process | None
        try:
            self._psutil_process = psutil.Process(popen.pid)
            self.create_time: float = self._psutil_process.create_time()
        except psutil.Error:  # not reaped yet (nobody waits before our waiter starts): rare
            self._psutil_process = None
            self.create_time = time.time()
        self._log_file: BinaryIO | None = log_file
        self._on_line = on_line
        self._on_exit = on_exit
        self._drain_timeout = drain_timeout
        self._splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)

        self._lock = threading.Lock()
        self._returncode: int | None = None
        self._killed_by_us = False
        self._known_descendants: dict[int, psutil.Process] = {}
        self._escalation: threading.Timer | None = None
        self._result: ProcessResult | None = None
        self._exited = threading.Event()
        self._done = threading.Event()

        self._wake_read, self._wake_write = os.pipe()
        self._waiter = threading.Thread(
            target=self._wait_for_exit, name=f"jobdeck-process-{self.pid}-waiter", daemon=True
        )
        self._reader = threading.Thread(
            target=self._read_output, name=f"jobdeck-process-{self.pid}-reader", daemon=True
        )

    # ------------------------------------------------------------------ start

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        shell: bool = False,
        log_path: str | os.PathLike[str],
        on_line: Callable[[str], None] | None = None,
        on_exit: Callable[[ProcessResult], None] | None = None,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> ProcessHandle:
        """Start ``argv`` and return its handle; raise :class:`ProcessStartError` if it cannot.

        ``argv`` is executed directly, never through a shell, unless ``shell=True``: then it
        must be one command string (or a one-element list) run by ``/bin/sh -c``. ``env`` is
        merged over ``os.environ``. Everything that can be checked (argv, cwd, executable, log
        file) is checked before anything runs. The log file (parent directories created) is
        opened for appending.
        """
        command = _command_line(argv, shell)
        merged_env = _merged_env(env)
        _check_cwd(cwd)
        if not shell:
            _check_executable(command[0], cwd, merged_env)
        if drain_timeout < 0:
            raise ValueError(f"drain_timeout must be >= 0 seconds, got {drain_timeout!r}")
        path = Path(log_path)
        log_file = _open_log(path)
        try:
            popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=merged_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                bufsize=0,
            )
        except OSError as exc:
            log_file.close()
            raise ProcessStartError(_describe_start_failure(exc, command[0], cwd)) from exc
        except BaseException:
            log_file.close()
            raise
        handle = cls(
            popen,
            argv=command,
            log_file=log_file,
            log_path=path,
            on_line=on_line,
            on_exit=on_exit,
            drain_timeout=drain_timeout,
        )
        handle._waiter.start()
        handle._reader.start()
        return handle

    # ------------------------------------------------------------------ state

    def poll(self) -> int | None:
        """The return code (negative: killed by that signal) once exited, else None."""
        return self._popen.poll()

    @property
    def running(self) -> bool:
        """True while the child process itself has not exited."""
        return self.poll() is None

    def wait(self, timeout: float | None = None) -> ProcessResult | None:
        """Block until the process has exited and its output is read; None on timeout.

        When it returns a result, ``on_exit`` has already run. Inside ``on_exit`` it returns
        the result at once.
        """
        if threading.current_thread() is self._reader:
            if self._result is not None:
                return self._result
            raise RuntimeError("wait() called from on_line would deadlock the output reader")
        if not self._done.wait(timeout):
            return None
        return self._result

    # ------------------------------------------------------------------ stop

    def terminate_tree(self, grace: float = 5.0) -> None:
        """Ask the whole tree to stop; SIGKILL whatever is still alive ``grace`` seconds later.

        Non-blocking. SIGTERM (then SIGCONT, so stopped processes see it) goes to the process
        group and to every descendant, including those that left the group with setsid.
        """
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, got {grace!r}")
        self._mark_killed_by_us()
        self._signal_tree(signal.SIGTERM)
        self._signal_tree(signal.SIGCONT)
        with self._lock:
            if self._escalation is not None:
                return
            timer = threading.Timer(grace, self._signal_tree, args=(signal.SIGKILL,))
            timer.name = f"jobdeck-process-{self.pid}-kill"
            timer.daemon = True
            self._escalation = timer
            finished = self._result is not None
        timer.start()
        if finished:  # the process ended before the timer existed; _finish could not drop it
            self._drop_escalation_if_tree_gone()

    def kill_tree(self) -> None:
        """SIGKILL the process group and every known descendant now."""
        self._mark_killed_by_us()
        with self._lock:
            timer = self._escalation
        if timer is not None:
            timer.cancel()
        self._signal_tree(signal.SIGKILL)

    def _drop_escalation_if_tree_gone(self) -> None:
        """Cancel a pending SIGKILL timer once nothing of the tree is left to kill, so its
        thread does not outlive the process by up to ``grace`` seconds."""
        with self._lock:
            timer = self._escalation
        if timer is None or self._collect_descendants():
            return
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            timer.cancel()  # the whole group is gone
        except PermissionError:
            pass

    def _mark_killed_by_us(self) -> None:
        with self._lock:
            if self._returncode is None:
                self._killed_by_us = True

    def _signal_tree(self, sig: signal.Signals) -> None:
        # Collect descendants first: once their parent dies they are re-parented and
        # can no longer be found through it.
        descendants = self._collect_descendants()
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass  # the whole group is gone
        except PermissionError:
            _log.warning("not allowed to signal process group %d", self.pgid)
        for process in descendants:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                process.send_signal(sig)  # psutil checks the pid was not reused

    def _collect_descendants(self) -> list[psutil.Process]:
        with self._lock:
            known = dict(self._known_descendants)
        roots = [p for p in (self._psutil_process, *known.values()) if p is not None]
        found: dict[int, psutil.Process] = {}
        for root in roots:
            try:
                if not root.is_running():
                    continue
                if root.pid in known:
                    found[root.pid] = root
                for child in root.children(recursive=True):
                    found.setdefault(child.pid, child)
            except psutil.Error:
                continue
        found.pop(self.pid, None)
        with self._lock:
            self._known_descendants.update(found)
        return list(found.values())

    # ------------------------------------------------------------------ threads

    def _wait_for_exit(self) -> None:
        returncode = self._popen.wait()
        with self._lock:
            self._returncode = returncode
        os.write(self._wake_write, b"x")  # before _exited: the reader closes the pipe after it
        self._exited.set()

    def _read_output(self) -> None:
        try:
            self._pump_output()
        except Exception:
            _log.exception("reading the output of process %d failed", self.pid)
        finally:
            self._emit(self._splitter.flush())
            self._close_output()
        self._exited.wait()
        os.close(self._wake_read)
        os.close(self._wake_write)
        self._finish()

    def _pump_output(self) -> None:
        stdout = self._popen.stdout
        assert stdout is not None
        output_fd = stdout.fileno()
        deadline: float | None = None  # set once the process has exited
        with selectors.DefaultSelector() as selector:
            selector.register(output_fd, selectors.EVENT_READ, "output")
            selector.register(self._wake_read, selectors.EVENT_READ, "exited")
            while True:
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    _log.warning(
                        "process %d exited but a descendant still holds its output open; "
                        "stopped reading it after %.1f s",
                        self.pid,
                        self._drain_timeout,
                    )
                    return
                for key, _ in selector.select(timeout):
                    if key.data == "exited":
                        selector.unregister(self._wake_read)
                        deadline = time.monotonic() + self._drain_timeout
                        continue
                    chunk = os.read(output_fd, _READ_CHUNK)
                    if not chunk:
                        return
                    self._write_log(chunk)
                    self._emit(self._splitter.feed(chunk))

    def _write_log(self, chunk: bytes) -> None:
        if self._log_file is None:
            return
        try:
            self._log_file.write(chunk)
            self._log_file.flush()
        except OSError:
            _log.exception("cannot write %s; the rest of the output is not logged", self.log_path)
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

    def _emit(self, lines: list[str]) -> None:
        for line in lines:  # already decoded and ANSI-free
            if not line.strip():
                continue
            self._tail.append(line)
            if self._on_line is None:
                continue
            try:
                self._on_line(line)
            except Exception:
                _log.exception(
                    "on_line callback failed for process %d; reading continues", self.pid
                )

    def _close_output(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None
        if self._popen.stdout is not None:
            with contextlib.suppress(OSError):
                self._popen.stdout.close()

    def _finish(self) -> None:
        with self._lock:
            returncode = self._returncode
            assert returncode is not None
            result = ProcessResult(
                exit_code=returncode if returncode >= 0 else None,
                signal=-returncode if returncode < 0 else None,
                tail=tuple(self._tail),
                killed_by_us=self._killed_by_us,
            )
            self._result = result
        self._drop_escalation_if_tree_gone()
        if self._on_exit is not None:
            try:
                self._on_exit(result)
            except Exception:
                _log.exception("on_exit callback failed for process %d", self.pid)
        self._done.set()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.poll()}"
        return f"<ProcessHandle pid={self.pid} {state} argv={list(self.argv)!r}>"


# ---------------------------------------------------------------------- checks before start


def _command_line(argv: Sequence[str], shell: bool) -> list[str]:
    """The argv actually executed, after checking its shape."""
    if shell:
        if isinstance(argv, str):
            command = argv
        elif not isinstance(argv, bytes) and len(argv) == 1 and isinstance(argv[0], str):
            command = argv[0]
        else:
            raise ProcessStartError(
                "shell=True needs one command string (or a one-element list), "
                f"got {type(argv).__name__} {argv!r}"
            )
        if not command.strip():
            raise ProcessStartError("the shell command is empty: nothing to run")
        if "\0" in command:
            raise ProcessStartError("the shell command contains a NUL character")
        return [_SHELL, "-c", command]
    if isinstance(argv, str | bytes):
        raise ProcessStartError(
            f"argv must be a list of arguments, got the string {argv!r}; "
            "split it into arguments, or pass shell=True to run it through /bin/sh"
        )
    items = list(argv)
    if not items:
        raise ProcessStartError("argv is empty: nothing to run")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ProcessStartError(
                f"argv[{index}] must be a string, got {type(item).__name__} {item!r}"
            )
        if "\0" in item:
            raise ProcessStartError(f"argv[{index}] contains a NUL character: {item!r}")
    if not items[0]:
        raise ProcessStartError("argv[0] (the program to run) is an empty string")
    return items


def _merged_env(env: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(os.environ)
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise ProcessStartError(f"invalid environment variable name: {key!r}")
        if not isinstance(value, str):
            raise ProcessStartError(
                f"environment variable {key} must be a string, got {type(value).__name__} {value!r}"
            )
        if "\0" in value:
            raise ProcessStartError(f"environment variable {key} contains a NUL character")
        merged[key] = value
    return merged


def _check_cwd(cwd: str | os.PathLike[str] | None) -> None:
    if cwd is None:
        return
    path = Path(cwd)
    if not path.exists():
        raise ProcessStartError(f"working directory does not exist: {os.fspath(cwd)}")
    if not path.is_dir():
        raise ProcessStartError(f"working directory is not a directory: {os.fspath(cwd)}")
    if not os.access(path, os.X_OK):
        raise ProcessStartError(f"permission denied: cannot enter working directory {path}")


def _check_executable(
    program: str, cwd: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> None:
    if os.sep in program:
        # A path: relative ones are resolved in the child's working directory.
        path = Path(program) if cwd is None else Path(cwd) / program
        where = "" if os.path.isabs(program) or cwd is None else f" (in {os.fspath(cwd)})"
        if not path.exists():
            raise ProcessStartError(f"executable not found: {program!r}{where}")
        if path.is_dir():
            raise ProcessStartError(f"not an executable: {program!r} is a directory{where}")
        if not os.access(path, os.X_OK):
            raise ProcessStartError(f"permission denied: {program!r} is not executable{where}")
        return
    directories = os.get_exec_path(dict(env))
    if cwd is not None:  # relative PATH entries are relative to the child's cwd
        directories = [os.path.join(os.fspath(cwd), d) for d in directories]
    if shutil.which(program, path=os.pathsep.join(directories)) is None:
        raise ProcessStartError(f"executable not found: {program!r} (searched PATH)")


def _open_log(path: Path) -> BinaryIO:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "ab")  # closed by the reader thread
    except OSError as exc:
        raise ProcessStartError(f"cannot open log file {path}: {exc.strerror or exc}") from exc


def _describe_start_failure(exc: OSError, program: str, cwd: str | os.PathLike[str] | None) -> str:
    """A readable reason for an exec failure the checks above did not predict."""
    if cwd is not None and exc.filename is not None and exc.filename == cwd:
        return f"cannot use working directory {os.fspath(cwd)}: {exc.strerror or exc}"
    if exc.errno == errno.ENOENT:
        return f"executable not found: {program!r}"
    if exc.errno == errno.EACCES:
        return f"permission denied: {program!r} is not executable"
    if exc.errno == errno.ENOEXEC:
        return f"cannot execute {program!r}: not a program, and a script needs a '#!' line"
    return f"cannot start {program!r}: {exc.strerror or exc}"
