"""Resource samples of a job's process tree share one scan of the machine's processes.

A sample every second per job used to scan every process's parent twice (milliseconds
each): with 20 jobs that alone was most of the app's CPU. Samples now go through a shared
:class:`~jobdeck.runtime.process_tree.ParentMap`; these tests check that a sample still
counts the whole tree, and that a stale scan never makes it take someone else's process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from jobdeck.runtime.process_tree import ParentMap, ProcessTree
from jobdeck.runtime.supervisor import process_start_time

TIMEOUT = 15.0


@pytest.fixture
def program() -> Iterator[subprocess.Popen[bytes]]:
    """A shell (group leader) with two children sleeping."""
    process = subprocess.Popen(
        ["sh", "-c", "sleep 30 & sleep 30 & echo ready; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    yield process
    os.killpg(process.pid, 9)
    process.wait()


def children_of(pid: int) -> set[int]:
    return {p.pid for p in psutil.Process(pid).children(recursive=True)}


def test_a_sample_counts_the_whole_tree(program: subprocess.Popen[bytes]) -> None:
    tree = ProcessTree(program.pid, process_start_time(program.pid), parents=ParentMap())
    deadline = time.monotonic() + TIMEOUT
    while len(children_of(program.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    rss, cpu = tree.sample()
    expected = sum(psutil.Process(p).memory_info().rss for p in children_of(program.pid))
    expected += psutil.Process(program.pid).memory_info().rss
    assert rss is not None and cpu is not None
    assert rss >= 0.8 * expected  # the shell and both sleeps (RSS moves a little)
    assert {p.pid for p in tree.descendants()} == children_of(program.pid)


class StaleMap(ParentMap):
    """A scan that claims ``stranger`` is a child of ``parent`` (a pid reused since)."""

    def __init__(self, parent: int, stranger: int) -> None:
        super().__init__(max_age=3600)
        self.claim = {parent: [stranger]}

    def children(self) -> dict[int, list[int]]:
        return self.claim


def test_a_stale_scan_never_makes_a_stranger_part_of_the_tree(
    program: subprocess.Popen[bytes],
) -> None:
    stranger = os.getpid()  # this test process: certainly not the shell's child
    tree = ProcessTree(
        program.pid, process_start_time(program.pid), parents=StaleMap(program.pid, stranger)
    )
    rss, _ = tree.sample()
    # Not counted: this test process alone is far bigger than the shell and its sleeps.
    assert rss is not None and rss < psutil.Process().memory_info().rss
    assert stranger not in {p.pid for p in tree._sampled_descendants()}
    assert stranger not in {p.pid for p in tree.descendants()}  # nor remembered for signals


def test_the_map_is_shared_until_it_is_older_than_its_age() -> None:
    parents = ParentMap(max_age=3600)
    first = parents.children()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert parents.children() is first  # one scan serves every sample meanwhile
        assert child.pid not in first.get(os.getpid(), [])
        parents.max_age = 0
        assert child.pid in parents.children().get(os.getpid(), [])
    finally:
        child.kill()
        child.wait()
