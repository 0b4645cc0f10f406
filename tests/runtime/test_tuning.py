"""The settings the app applies to its own process (``runtime/tuning.py``)."""

from __future__ import annotations

import gc
import weakref

from jobdeck.runtime.tuning import freeze_startup_objects, pause_gc, resume_gc


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_start_up_objects_are_left_out_of_the_collector_and_later_ones_are_collected() -> None:
    before = gc.get_freeze_count()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > before  # what exists now is not walked again
        node = _Node()
        gone = weakref.ref(node)
        del node
        gc.collect()
        assert gone() is None  # what is made afterwards is collected as usual
    finally:
        gc.unfreeze()


def test_the_start_pauses_the_collector_and_resumes_it() -> None:
    assert gc.isenabled()
    try:
        pause_gc()
        assert not gc.isenabled()
        pause_gc()  # (twice: still one pause)
        resume_gc()
        assert gc.isenabled()
        resume_gc()  # nothing paused: nothing to do
        assert gc.isenabled()
    finally:
        gc.enable()


def test_a_collector_turned_off_by_the_process_stays_off() -> None:
    gc.disable()
    try:
        pause_gc()
        resume_gc()
        assert not gc.isenabled()  # the process's choice, not ours to change
    finally:
        gc.enable()
