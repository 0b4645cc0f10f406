"""PostgreSQL fixtures (a pytest plugin, loaded by tests/conftest.py): ``pg_server`` is one
real server for the whole session (see :mod:`tests.pg_server`), ``pg_url`` an empty database
of its own for each test. Tests that need PostgreSQL are skipped only when its programs are
not installed (CI installs them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg_server import PgServer, find_pg_bin


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl and postgres not found)")
    server = PgServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return pg_server.new_database()
