"""100,000 Qt signals emitted from Python: PySide6 6.12.0 aborts CPython 3.11 here
("Fatal Python error: bool_dealloc"), so this pins a working PySide6."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    ticked = Signal(int)


def test_100k_direct_signals_arrive(qapp) -> None:
    emitter = Emitter()
    received: list[int] = [0]
    last: list[int] = [-1]

    def on_tick(value: int) -> None:
        received[0] += 1
        last[0] = value

    emitter.ticked.connect(on_tick)
    for i in range(100_000):
        emitter.ticked.emit(i)
    assert received[0] == 100_000
    assert last[0] == 99_999
