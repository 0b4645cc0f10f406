"""Typing into the history's search box: results follow the keys without a long wait, and
a search typed over never shows its rows after the newer one's."""

import functools
import threading
import time

from jobdeck.core.read_stop import ReadStopped
from jobdeck.ui import main_window

from .fakes import make_job
from .windows import make_main_window

#: The delay every search waited for until this round (ms).
OLD_DELAY_MS = 250


make_window = functools.partial(make_main_window, show=True)


def titles(window):
    model = window.model
    return [model.job_at(r).title for r in range(model.rowCount())]


def test_typing_a_word_shows_its_matches_without_the_old_delay(qtbot, tracker, signals, settings):
    tracker.add(make_job("backup photos"), make_job("compile"))
    window = make_window(qtbot, tracker, signals, settings)
    qtbot.keyClicks(window.search_edit, "photo")
    typed = time.perf_counter()
    qtbot.waitUntil(lambda: window.model.filter.search == "photo", timeout=5000)
    waited_ms = (time.perf_counter() - typed) * 1000
    assert titles(window) == ["backup photos"]
    # the timer that merges keys waits SEARCH_DELAY_MS, well under the old delay
    assert main_window.SEARCH_DELAY_MS < OLD_DELAY_MS / 2
    assert waited_ms < OLD_DELAY_MS, f"the search came {waited_ms:.0f} ms after the last key"


def test_one_or_two_letters_wait_longer_than_a_word(qtbot, tracker, signals, settings):
    """1-2 letters are scanned for (a rare pair takes seconds at a million jobs): typing
    on within the longer delay searches for the longer text only."""
    tracker.add(make_job("backup photos"), make_job("compile"))
    window = make_window(qtbot, tracker, signals, settings)
    searched = []
    real_page = tracker.history_page

    def page(where, *args, **kw):
        if where.search:
            searched.append(where.search)
        return real_page(where, *args, **kw)

    tracker.history_page = page
    qtbot.keyClicks(window.search_edit, "ph")
    qtbot.wait(main_window.SEARCH_DELAY_MS + 100)  # past a word's delay: letters still wait
    assert searched == [] and window.model.filter.search is None
    qtbot.keyClicks(window.search_edit, "o")
    qtbot.waitUntil(lambda: window.model.filter.search == "pho", timeout=5000)
    assert searched == ["pho"]


def test_clearing_the_search_shows_the_whole_history_at_once(qtbot, tracker, signals, settings):
    tracker.add(make_job("backup photos"), make_job("compile"))
    window = make_window(qtbot, tracker, signals, settings)
    window.search_edit.setText("photo")
    qtbot.waitUntil(lambda: titles(window) == ["backup photos"], timeout=5000)
    window.search_edit.clear()
    assert window.model.filter.search is None
    assert sorted(titles(window)) == ["backup photos", "compile"]


def test_a_search_typed_over_never_shows_after_the_newer_one(qtbot, tracker, signals, settings):
    tracker.add(make_job("backup photos"), make_job("backup photos 2"), make_job("compile"))
    window = make_window(qtbot, tracker, signals, settings)
    gate = threading.Event()
    held = threading.Event()
    real_page = tracker.history_page
    older: list[str] = []

    def page(where, *args, **kw):
        if where.search != "backup":
            return real_page(where, *args, **kw)
        held.set()  # the older search: read slowly
        gate.wait(10)
        try:
            rows = real_page(where, *args, **kw)
        except ReadStopped:
            older.append("stopped")
            raise
        older.append("read")
        return rows

    tracker.history_page = page
    try:
        qtbot.keyClicks(window.search_edit, "backup")
        qtbot.waitUntil(held.is_set, timeout=5000)  # its read is under way
        qtbot.keyClicks(window.search_edit, " photos 2")
        qtbot.waitUntil(lambda: window.model.filter.search == "backup photos 2", timeout=5000)
        assert titles(window) == ["backup photos 2"]
        # the older read ends now, after the newer one showed: typed on, it was stopped
        # (its statement interrupted: see test_history_search.py), its rows never come
        gate.set()
        qtbot.waitUntil(lambda: bool(older), timeout=5000)
        assert older == ["stopped"]
    finally:
        gate.set()
    assert window.model.filter.search == "backup photos 2"
    assert titles(window) == ["backup photos 2"]
    assert not window.model.search_pending


def test_searches_typed_over_before_they_start_are_never_read(qtbot, tracker, signals, settings):
    """Typing while every reading thread is busy queues the keys' searches: once a thread
    is free, those typed over are skipped and only the newest is read."""
    tracker.add(make_job("abcdefgh"), make_job("compile"))
    window = make_window(qtbot, tracker, signals, settings)
    gate = threading.Event()
    searched: list[str] = []
    real_page = tracker.history_page

    def page(where, *args, **kw):
        if where.search:
            searched.append(where.search)
            if len(searched) <= 3:  # every reading thread (three) waits
                gate.wait(10)
        return real_page(where, *args, **kw)

    tracker.history_page = page
    try:
        for n, text in enumerate(("abc", "d", "e"), start=1):
            qtbot.keyClicks(window.search_edit, text)
            qtbot.waitUntil(lambda n=n: len(searched) == n, timeout=5000)
        qtbot.keyClicks(window.search_edit, "f")
        qtbot.wait(20)  # (its timer runs: its search waits for a thread)
        qtbot.keyClicks(window.search_edit, "gh")
        qtbot.wait(20)
    finally:
        gate.set()
    qtbot.waitUntil(lambda: window.model.filter.search == "abcdefgh", timeout=5000)
    assert searched == ["abc", "abcd", "abcde", "abcdefgh"]
    assert titles(window) == ["abcdefgh"]
