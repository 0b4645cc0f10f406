"""The log files of process jobs: the supervisor's capped writer (head + tail), reading a
log's last lines from its end, the tail reader across a cut, and private files."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from jobdeck.runtime.log_tail import (
    FINISH_WINDOW,
    LATEST_LINES,
    LIVE_BYTES,
    LIVE_LINES,
    LogTail,
    last_lines,
)
from jobdeck.runtime.private_files import (
    UnsafePathError,
    open_private_append,
    private_directory,
)
from jobdeck.runtime.supervisor import MIN_MAX_LOG_BYTES, LogWriter

CAP = MIN_MAX_LOG_BYTES  # 64 KiB


def numbered(start: int, count: int) -> bytes:
    return b"".join(b"line %06d of the output\n" % n for n in range(start, start + count))


LINE = len(numbered(0, 1))


def text_line(n: int) -> str:
    """Line ``n`` of :func:`numbered`, as the reader returns it."""
    return f"line {n:06d} of the output"


def write_in_chunks(writer: LogWriter, data: bytes, chunk: int = 1000) -> None:
    for i in range(0, len(data), chunk):
        writer.write(data[i : i + chunk])


def test_a_log_under_its_cap_is_written_as_is(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    writer = LogWriter(str(path), CAP)
    write_in_chunks(writer, numbered(0, 100))
    writer.close()
    assert path.read_bytes() == numbered(0, 100)
    assert writer.omitted == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_log_past_its_cap_keeps_its_head_and_its_latest_output(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    writer = LogWriter(str(path), CAP)
    total = 20_000  # ~500 KB, almost 8 times the cap
    data = numbered(0, total)
    for i in range(0, len(data), 777):
        writer.write(data[i : i + 777])
        assert path.stat().st_size <= CAP  # never left above the cap
    writer.close()
    text = path.read_bytes()
    head, marker_and_tail = text.split(b"[jobdeck: ", 1)
    marker, tail = marker_and_tail.split(b"\n", 1)
    assert head == numbered(0, len(head) // LINE)  # whole lines from the very first one
    assert CAP // 4 - LINE <= len(head) <= CAP // 4
    last = tail.rstrip(b"\n").split(b"\n")
    assert last[-1] == b"line %06d of the output" % (total - 1)
    first_kept = int(last[0].split()[1])
    assert tail == numbered(first_kept, total - first_kept)  # whole, consecutive lines
    assert len(tail) >= CAP // 4 - LINE
    omitted = int(marker.split()[0])
    assert omitted == writer.omitted == len(data) - len(head) - len(tail)
    assert b"bytes of output left out here" in marker


def test_without_a_cap_nothing_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    writer = LogWriter(str(path), None)
    write_in_chunks(writer, numbered(0, 10_000), chunk=4096)
    writer.close()
    assert path.read_bytes() == numbered(0, 10_000)


def test_output_start_follows_this_attempt_through_the_cuts(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    earlier = numbered(0, 1000)  # an earlier attempt's 25 KB
    path.write_bytes(earlier)
    writer = LogWriter(str(path), CAP, output_start=len(earlier))
    writer.write(b"second attempt starts\n")
    assert writer.output_start == len(earlier)
    write_in_chunks(writer, numbered(5000, 5000))
    writer.close()
    data = path.read_bytes()
    # Its start was cut out: it now begins right after the marker line.
    assert data[: writer.output_start].endswith(b"latest output]\n")
    assert last_lines(path, 2, start=writer.output_start) == [
        "line 009998 of the output",
        "line 009999 of the output",
    ]


def test_last_lines_are_this_attempts_and_read_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(b"old attempt line\n\n")
    start = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"x" * (3 * FINISH_WINDOW) + b"\nnext to last\n\nthe last, unterminated")
    assert last_lines(path, 2, start=start) == ["next to last", "the last, unterminated"]
    assert last_lines(path, 50, start=start) == ["next to last", "the last, unterminated"]
    path.write_bytes(b"old attempt line\n")
    assert last_lines(path, 5, start=path.stat().st_size) == []  # this attempt said nothing
    assert last_lines(tmp_path / "missing.log", 5) == []


def test_the_tail_reader_carries_on_after_a_cut(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(numbered(0, 30))
    tail = LogTail(path)
    assert len(tail.read()) == 30
    path.write_bytes(numbered(0, 10))  # shorter than what was read: its middle was cut
    assert tail.read() == []  # not the head again: it carries on from the new end
    with open(path, "ab") as f:
        f.write(b"new line\n")
    assert tail.read() == ["new line"]


def test_the_tail_reader_returns_every_line_of_modest_output(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(b"")
    tail = LogTail(path)
    for k in range(5):
        with open(path, "ab") as f:
            f.write(numbered(k * LIVE_LINES, LIVE_LINES) + b"half a li")
        lines = tail.read()
        assert tail.skipped == 0
        first = text_line(k * LIVE_LINES)
        assert lines[0] == (first if k == 0 else "half a li" + first)
        assert len(lines) == LIVE_LINES


def test_the_tail_reader_jumps_to_the_latest_lines_of_a_flood(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(b"")
    tail = LogTail(path)
    flood = numbered(0, 200_000)
    with open(path, "ab") as f:
        f.write(flood + b"42%\r43%\r44")  # ends inside a redraw
    lines = tail.read()
    assert lines == [text_line(n) for n in range(199_992, 200_000)] + [
        "42%",
        "43%",
    ]
    assert tail.skipped == len(flood) - 8 * LINE
    assert tail.offset == path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"%\n")  # the redraw in progress is completed, not lost
    assert tail.read() == ["44%"] and tail.skipped == 0
    # Many short lines under the byte bound are too many lines: the latest ones only.
    with open(path, "ab") as f:
        f.write(b"".join(b"%d%%\n" % (n % 100) for n in range(LIVE_LINES * 3)))
    lines = tail.read()
    assert len(lines) == LATEST_LINES and lines[-1] == f"{(LIVE_LINES * 3 - 1) % 100}%"
    assert tail.skipped > 0


def test_the_tail_reader_jumping_into_a_very_long_line_skips_the_rest_of_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(b"")
    tail = LogTail(path)
    with open(path, "ab") as f:
        f.write(b"start " + b"x" * (4 * LIVE_BYTES))
    assert tail.read() == []
    with open(path, "ab") as f:
        f.write(b"yyy\nnext\n")
    assert tail.read() == ["next"]  # never a fragment of the line's middle


def test_finish_parses_only_the_end_of_a_log_it_fell_behind_on(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(numbered(0, 10))
    tail = LogTail(path)
    assert len(tail.read()) == 10
    with open(path, "ab") as f:
        f.write(numbered(10, 200_000) + b"done")
    lines = tail.finish()
    assert lines[-1] == "done"
    assert lines[:-1] == [text_line(n) for n in range(200_000, 200_010)]
    assert tail.skipped > 0


def test_last_lines_looks_back_only_as_far_as_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(b"old attempt\n")
    start = path.stat().st_size
    with open(path, "ab") as f:
        f.write(numbered(0, 100_000) + b"\n" * 5000 + b"\r\n".join([b"a", b"b", b"c"]))
    assert last_lines(path, 3, start=start) == ["a", "b", "c"]
    # Past a run of blank lines, further back than the first look reached.
    assert last_lines(path, 5, start=start) == [
        "line 099998 of the output",
        "line 099999 of the output",
        "a",
        "b",
        "c",
    ]
    assert last_lines(path, 0) == []


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_private_directories_and_files_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        directory = private_directory(tmp_path / "a" / "b")
        with open_private_append(directory / "x.log") as f:
            f.write(b"secret\n")
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b" / "x.log").st_mode) == 0o600


def test_private_files_refuse_symbolic_links(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    (tmp_path / "x.log").symlink_to(target)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        open_private_append(tmp_path / "x.log")
    (tmp_path / "dir").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        private_directory(tmp_path / "dir")


def test_a_shared_directory_is_never_narrowed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    with pytest.raises(UnsafePathError, match="shared directory"):
        private_directory(shared)
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
    assert private_directory(shared / "mine") == shared / "mine"


def test_a_private_directory_is_checked_again_once_it_changed(tmp_path: Path) -> None:
    """Each job's start asks for its folders again: a folder widened, or swapped for a
    link, since the last time is narrowed again or refused, never taken as still fine."""
    folder = private_directory(tmp_path / "logs")
    os.chmod(folder, 0o755)
    assert private_directory(folder) == folder
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    folder.rename(tmp_path / "moved")
    (tmp_path / "logs").symlink_to(tmp_path / "moved")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        private_directory(folder)
    (tmp_path / "logs").unlink()
    (tmp_path / "logs").mkdir(mode=0o755)  # another folder under the same name
    assert private_directory(folder) == folder
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_no_file_until_the_first_output(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    writer = LogWriter(str(path), CAP)
    writer.write(b"")
    assert not path.exists() and not writer.opened
    writer.write(b"first\n")
    assert path.read_bytes() == b"first\n" and writer.opened
    writer.close()
    silent = LogWriter(str(tmp_path / "silent.log"), CAP)
    silent.close()
    assert not (tmp_path / "silent.log").exists()


def test_output_lost_to_a_full_disk_is_counted_and_marked_where_it_was_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA: with the log folder full, a job's output stopped mid-line and the job completed
    as if nothing were missing. What cannot be written is counted, with why, and a line
    marks the gap once writing works again."""
    path = tmp_path / "job.log"
    writer = LogWriter(str(path), CAP)
    full: dict[str, int | None] = {"room": 10}
    real_write = os.write

    def disk(fd: int, data: bytes) -> int:
        if fd != writer._append:
            return real_write(fd, data)
        room = full["room"]
        if room is not None and room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real_write(fd, bytes(data[:room]) if room is not None else data)
        if room is not None:
            full["room"] = room - written
        return written

    monkeypatch.setattr(os, "write", disk)
    writer.write(b"first line\nsecond line\n")  # 10 bytes fit
    writer.write(b"third line\n")
    assert (writer.lost, writer.lost_error) == (24, os.strerror(errno.ENOSPC))
    full["room"] = None  # space again
    writer.write(b"fourth line\n")
    writer.close()
    lost = f"[jobdeck: 24 bytes of output lost here: {os.strerror(errno.ENOSPC)}]"
    assert path.read_text() == f"first line\n{lost}\nfourth line\n"
    assert writer.lost == 24  # in all, for the job's end


def test_output_lost_until_the_end_is_marked_when_the_log_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "job.log"
    writer = LogWriter(str(path), CAP)
    failing = {"on": False}
    real_write = os.write

    def disk(fd: int, data: bytes) -> int:
        if fd == writer._append and failing["on"]:
            failing["on"] = False  # (the next write, the marker, goes through)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk)
    writer.write(b"partial")
    failing["on"] = True
    writer.write(b" rest of it\n")
    writer.close()
    lost = f"[jobdeck: 12 bytes of output lost here: {os.strerror(errno.ENOSPC)}]"
    assert path.read_text() == f"partial\n{lost}\n"


def test_the_bar_a_program_is_drawing_is_progress_before_its_line_ends(tmp_path: Path) -> None:
    """QA: tqdm begins each redraw with ``\\r``, so the bar drawn last ended only when the
    next came: a job whose steps took minutes showed the step before. The unfinished line is
    told when it reads as progress, once; it still comes back as a line when it ends."""
    path = tmp_path / "job.log"
    path.write_bytes(b"\r  0%|          | 0/4\r 25%|##5       | 1/4")
    tail = LogTail(path)
    assert tail.read() == ["  0%|          | 0/4"]
    assert tail.pending_progress() == " 25%|##5       | 1/4"
    assert tail.pending_progress() is None  # told already
    with open(path, "ab") as f:
        f.write(b"\r 50%|#####     | 2/4")
    assert tail.read() == [" 25%|##5       | 1/4"]
    assert tail.pending_progress() == " 50%|#####     | 2/4"
    other = tmp_path / "osc.log"
    other.write_bytes(b"\x1b]9;4;1;30\x07")  # the terminal's progress report, no line break
    osc = LogTail(other)
    assert osc.read() == []
    assert osc.pending_progress() == "\x1b]9;4;1;30\x07"
    words = tmp_path / "words.log"
    words.write_bytes(b"Compiling jobdeck")  # not progress: a line once it ends
    plain = LogTail(words)
    assert plain.read() == [] and plain.pending_progress() is None
