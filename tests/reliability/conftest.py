"""The reliability suite: adversarial tests of the promise "what Jobdeck said happened, happened,
and survives" (full disks, SIGKILL, hostile files and inputs). Every test here is marked
``reliability``; the quick ones run in CI, the long crash loops are benchmarks
(``tests/bench``)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)
