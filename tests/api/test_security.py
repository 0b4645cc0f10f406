"""Who may use the API, and bad requests: a clear 4xx, nothing queued, the app unharmed."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.api.paths import ApiPaths
from jobdeck.api.server import Listen
from jobdeck.core import JobTracker
from tests.api.serving import LoopServer

GOOD_JOB = json.dumps({"params": {"argv": ["true"]}})


@pytest.fixture
def tcp(tracker: JobTracker, runtime: Path) -> Iterator[LoopServer]:
    server = LoopServer(tracker, ApiPaths(runtime / "jobdeck", "tcp"), listen=Listen(0))
    yield server
    server.close()


def ask(
    server: LoopServer,
    method: str,
    path: str,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    token: bool = True,
) -> tuple[int, dict[str, Any], http.client.HTTPResponse]:
    """One request to the TCP listener; ``Host`` is 127.0.0.1:<port> unless given."""
    assert server.server is not None and server.server.port is not None
    port = server.server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {"Host": f"127.0.0.1:{port}"}
    if token:
        sent["Authorization"] = f"Bearer {server.server.token}"
    if body is not None:
        sent["Content-Type"] = "application/json"
    sent.update(headers or {})
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in sent.items():
        conn.putheader(name, value)
    data = body.encode() if isinstance(body, str) else body
    if data is not None:
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    response = conn.getresponse()
    raw = response.read()
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {"raw": raw.decode(errors="replace")}
    conn.close()
    return response.status, parsed, response


def test_the_tcp_listener_needs_the_token(tcp: LoopServer, tracker: JobTracker) -> None:
    status, body, response = ask(tcp, "POST", "/api/jobs", GOOD_JOB, token=False)
    assert status == 401 and "token is required" in body["error"]
    assert response.getheader("WWW-Authenticate") == "Bearer"
    status, body, _ = ask(tcp, "POST", "/api/jobs", GOOD_JOB, {"Authorization": "Bearer nope"})
    assert status == 401 and body["error"] == "wrong token"
    status, body, _ = ask(tcp, "GET", "/api/jobs", headers={"Authorization": "Basic abc"})
    assert status == 401
    assert tracker.count_jobs() == 0
    status, body, _ = ask(tcp, "POST", "/api/jobs", GOOD_JOB)
    assert status == 201 and tracker.count_jobs() == 1


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "127.0.0.1:1", "localhost.evil.example", ""]
)
def test_a_foreign_host_header_is_refused(tcp: LoopServer, tracker: JobTracker, host: str) -> None:
    status, body, _ = ask(tcp, "POST", "/api/jobs", GOOD_JOB, {"Host": host})
    assert status == 403 and "DNS rebinding" in body["error"]
    assert tracker.count_jobs() == 0


def test_local_host_names_are_accepted(tcp: LoopServer) -> None:
    port = tcp.server.port  # type: ignore[union-attr]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost", f"[::1]:{port}"):
        assert ask(tcp, "GET", "/api/info", headers={"Host": host})[0] == 200, host


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "https://localhost"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_origin_requests_are_refused(
    tcp: LoopServer, tracker: JobTracker, headers: dict[str, str]
) -> None:
    status, body, _ = ask(tcp, "POST", "/api/jobs", GOOD_JOB, headers)
    assert status == 403 and "cross-origin" in body["error"]
    assert tracker.count_jobs() == 0


def test_the_same_origin_is_accepted(tcp: LoopServer) -> None:
    origin = f"http://127.0.0.1:{tcp.server.port}"  # type: ignore[union-attr]
    assert ask(tcp, "POST", "/api/jobs", GOOD_JOB, {"Origin": origin})[0] == 201


def test_the_board_logs_in_with_the_token_once_then_by_cookie(tcp: LoopServer) -> None:
    token = tcp.server.token  # type: ignore[union-attr]
    assert ask(tcp, "GET", "/", token=False)[0] == 401
    assert ask(tcp, "GET", "/?token=wrong", token=False)[0] == 401
    status, _, response = ask(tcp, "GET", f"/?token={token}", token=False)
    assert status == 303 and response.getheader("Location") == "/"
    cookie = response.getheader("Set-Cookie") or ""
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and str(token) in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    status, body, response = ask(tcp, "GET", "/", headers=jar, token=False)
    assert status == 200 and "board.js" in body["raw"]
    assert "default-src 'self'" in (response.getheader("Content-Security-Policy") or "")
    assert ask(tcp, "GET", "/static/board.js", headers=jar, token=False)[0] == 200
    assert ask(tcp, "GET", "/api/jobs", headers=jar, token=False)[0] == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        ("{not json", {}, 400, "not valid JSON"),
        ("[1, 2]", {}, 400, "must be a JSON object"),
        ("", {}, 400, "needs a JSON object"),
        (b"\xff\xfe{}", {}, 400, "UTF-8"),
        (GOOD_JOB, {"Content-Type": "text/plain"}, 415, "application/json"),
        ("x" * (2 * 1024 * 1024), {}, 413, "too large"),
        ('{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}", {}, 400, "nested too deeply"),
    ],
)
def test_malformed_bodies_get_a_clear_4xx_and_nothing_is_queued(
    tcp: LoopServer,
    tracker: JobTracker,
    body: str | bytes,
    headers: dict[str, str],
    status: int,
    words: str,
) -> None:
    got, answer, _ = ask(tcp, "POST", "/api/jobs", body, headers)
    assert got == status and words in answer["error"], answer
    assert tracker.count_jobs() == 0
    assert ask(tcp, "GET", "/api/info")[0] == 200  # unharmed


def test_wrong_methods_and_paths_answer_json(tcp: LoopServer) -> None:
    status, body, response = ask(tcp, "DELETE", "/api/jobs")
    assert status == 405 and "DELETE is not allowed" in body["error"]
    assert "POST" in (response.getheader("Allow") or "")
    status, body, _ = ask(tcp, "GET", "/api/jobz")
    assert status == 404 and "/api/jobz" in body["error"]


def test_the_unix_socket_refuses_web_pages(api: LoopServer, tracker: JobTracker) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(api.paths.socket))
    sock.sendall(
        b"POST /api/jobs HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(GOOD_JOB), GOOD_JOB.encode())
    )
    answer = sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 403") and b"cross-origin" in answer
    assert tracker.count_jobs() == 0


def test_the_socket_and_token_are_private(tcp: LoopServer) -> None:
    paths = tcp.paths
    assert stat.S_IMODE(os.stat(paths.directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(paths.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(paths.token).st_mode) == 0o600
    assert os.stat(paths.directory).st_uid == os.getuid()


@pytest.mark.skipif(os.getuid() != 0, reason="dropping to another user needs root")
def test_another_user_cannot_reach_the_socket(api: LoopServer, runtime: Path) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    os.chmod(runtime, 0o755)  # let the other user get as far as the jobdeck directory
    pid = os.fork()
    if pid == 0:  # the child becomes nobody and tries to connect (exit status says how)
        code = 3
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            sock = socket.socket(socket.AF_UNIX)
            try:
                sock.connect(str(api.paths.socket))
                code = 1
            except PermissionError:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "nobody could connect (1) or failed (3)"
    assert api.client().get("/api/info")["app"] == "jobdeck"
