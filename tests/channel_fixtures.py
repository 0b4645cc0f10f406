"""Fixtures shared by the channel, helper and example tests (a pytest plugin, loaded by
tests/conftest.py): ``rec`` records what a ChannelServer delivers, ``server`` is a running
one in a private ``runtime_dir``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.runtime.channel import ChannelServer
from tests.runtime.channel_helpers import Recorder, running_server, short_tempdir


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    with short_tempdir() as base:
        yield base / "jobdeck"


@pytest.fixture
def server(runtime_dir: Path, rec: Recorder) -> Iterator[ChannelServer]:
    with running_server(runtime_dir, rec) as srv:
        yield srv
