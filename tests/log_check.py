"""Unexpected WARNING and ERROR log records fail the test that produced them (as in
qutebrowser's test suite).

A record at WARNING or above that is logged while a test is set up, runs or is torn down
fails that phase of the test, naming the records. A test that provokes one on purpose says
so, either with a marker::

    @pytest.mark.expected_log(r"could not start", r"interrupted")

(each pattern is searched, ``re.search``, in the formatted message; ``level=`` caps the
level allowed, ``logging.ERROR`` by default) or, when the message is only known inside the
test, with the ``expected_log`` fixture: ``expected_log.allow(r"...")``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Generator, Iterator

import pytest

__all__ = ["LogExpectations"]

_KEY = pytest.StashKey["LogExpectations"]()


class LogExpectations:
    """The warnings a test may log, and those it logged."""

    def __init__(self) -> None:
        self._allowed: list[tuple[re.Pattern[str], int]] = []
        self.unexpected: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def allow(self, pattern: str, level: int = logging.ERROR) -> None:
        """Records whose message matches ``pattern``, at ``level`` or below, are expected."""
        with self._lock:
            self._allowed.append((re.compile(pattern, re.DOTALL), level))

    def expected(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        with self._lock:
            allowed = list(self._allowed)
        return any(
            record.levelno <= level and pattern.search(message) for pattern, level in allowed
        )

    def take(self) -> list[logging.LogRecord]:
        with self._lock:
            found, self.unexpected = self.unexpected, []
        return found


class _Collector(logging.Handler):
    def __init__(self, expectations: LogExpectations) -> None:
        super().__init__(logging.WARNING)
        self._expectations = expectations

    def emit(self, record: logging.LogRecord) -> None:
        if not self._expectations.expected(record):
            with self._expectations._lock:
                self._expectations.unexpected.append(record)


def _expectations(item: pytest.Item) -> LogExpectations:
    found = item.stash.get(_KEY, None)
    if found is None:
        found = LogExpectations()
        for marker in item.iter_markers("expected_log"):
            level = marker.kwargs.get("level", logging.ERROR)
            for pattern in marker.args:
                found.allow(pattern, level)
        item.stash[_KEY] = found
    return found


def _describe(records: list[logging.LogRecord]) -> str:
    lines = []
    for record in records[:20]:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        lines.append(f"  {record.levelname} {record.name}: {message[:500]}")
    if len(records) > 20:
        lines.append(f"  ... and {len(records) - 20} more")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def _phase(item: pytest.Item) -> Generator[None, object, object]:
    expectations = _expectations(item)
    handler = _Collector(expectations)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        result = yield
    finally:
        root.removeHandler(handler)
    unexpected = expectations.take()
    if unexpected:
        pytest.fail(
            "unexpected log records (mark the test with @pytest.mark.expected_log(...) if "
            "they are what it tests):\n" + _describe(unexpected),
            pytrace=False,
        )
    return result


pytest_runtest_setup = _phase
pytest_runtest_call = _phase
pytest_runtest_teardown = _phase


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "expected_log(*patterns, level=logging.ERROR): the test logs WARNING/ERROR records "
        "matching these patterns on purpose",
    )


@pytest.fixture
def expected_log(request: pytest.FixtureRequest) -> Iterator[LogExpectations]:
    """Say, inside a test, which warnings it provokes: ``expected_log.allow(r"...")``."""
    yield _expectations(request.node)
