"""Tests for jobdeck.runtime.output_progress: reading progress from process output."""

from __future__ import annotations

import io
import time

import pytest
import tqdm
from hypothesis import example, given
from hypothesis import strategies as st

from jobdeck.runtime.output_progress import OutputSplitter, ParsedProgress, parse_progress_line


def progress(current: float, total: float, message: str | None = None) -> ParsedProgress:
    return ParsedProgress(float(current), float(total), message)


# --- recognised lines -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # bare percentages
        ("42%", progress(42, 100)),
        ("0%", progress(0, 100)),
        ("100%", progress(100, 100)),
        ("Progress: 42.5 %", progress(42.5, 100)),
        ("progress=7.25%", progress(7.25, 100)),
        ("[ 42%] Building CXX object src/CMakeFiles/app.dir/main.cpp.o", progress(42, 100)),
        ("Compressing objects:  42% (21/50)", progress(42, 100)),
        # counters
        ("12/100", progress(12, 100)),
        ("[12/100]", progress(12, 100)),
        ("[3/10] Linking CXX executable app", progress(3, 10)),
        ("[  3/ 10] cc -c foo.c", progress(3, 10)),
        ("(12 of 100)", progress(12, 100)),
        ("Downloading file (12 of 100) ...", progress(12, 100)),
        ("[12 of 100] done", progress(12, 100)),
        ("step 0/5", progress(0, 5)),
        ("100/100", progress(100, 100)),
        ("Processed 12/100.", progress(12, 100)),
        ("12/100 [=====>........................] - ETA: 5s - loss: 0.31", progress(12, 100)),
        # rsync --info=progress2: the percent is the overall transfer, rsync's rate and time
        # left become the message; a line ending a file shows the time so far (not used)
        (
            "    1,234,567  42%   10.00MB/s    0:00:05  ",
            progress(42, 100, "10.00MB/s, 0:00:05 left"),
        ),
        (
            "    1,234,567  42%   10.00MB/s    0:00:01 (xfr#1, to-chk=3/5)",
            progress(42, 100, "10.00MB/s, 1 file transferred"),
        ),
        (
            "          5.37G  99%   88.39MB/s    0:00:58 (xfr#40, to-chk=0/45)",
            progress(99, 100, "88.39MB/s, 40 files transferred"),
        ),
        (
            "  1,234,567,890  12%    1.50GB/s    1:02:03 (xfr#7, ir-chk=1000/1200)",
            progress(12, 100, "1.50GB/s, 7 files transferred"),
        ),
        ("     32,768   0%    0.00kB/s    0:00:00", progress(0, 100, "0.00kB/s")),
        ("  1.23G  12%  150.00MB/s  ??:??:??", progress(12, 100, "150.00MB/s")),
        # wget
        (
            "ubuntu.iso          45%[========>            ]  45.00M  10.0MB/s    eta 5s",
            progress(45, 100, "10.0MB/s, 5s left"),  # read by progress_parsers.wget_bar
        ),
        ("45%[=====>    ]", progress(45, 100)),
        (
            "  1500K .......... .......... .......... .......... ..........  3% 1.21M 21s",
            progress(3, 100),
        ),
        # pip (rich progress bar)
        (
            "   ━━━━━━━━━━━━━━━━━━╸━━━━━━━━━━━━━━━━━━━━━ 1.2/3.4 MB 10.0 MB/s eta 0:00:01",
            progress(1.2, 3.4),
        ),
    ],
)
def test_recognised_lines(line: str, expected: ParsedProgress) -> None:
    assert parse_progress_line(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  42%|████▏     | 42/100 [00:01<00:01, 41.9it/s]", progress(42, 100)),
        (
            "Downloading:  42%|████▏     | 42/100 [00:01<00:01, 41.9it/s]",
            progress(42, 100, "Downloading"),
        ),
        # n/total is preferred over the (rounded) percentage
        ("  33%|███▎      | 1/3 [00:01<00:02,  1.00s/it]", progress(1, 3)),
        (
            "Epoch 3/10: 100%|██████████| 50/50 [00:01<00:00, 49.0it/s]",
            progress(50, 50, "Epoch 3/10"),
        ),
        ("  0%|          | 0/100 [00:00<?, ?it/s]", progress(0, 100)),
        (" 84%|########4 | 842/1000 [00:00<00:00, 2792.44it/s]", progress(842, 1000)),
        # narrow terminal: empty bar, right part cut off
        (" 84%|| 842/1000 [00:00<00:00, 23002784.", progress(842, 1000)),
        # unit scaling
        ("dl:  63%|######3   | 1.26k/2.00k [00:00<00:00, 13.5MB/s]", progress(1260, 2000, "dl")),
        ("  50%|█████     | 1.00M/2.00M [00:01<00:01, 1.00MB/s]", progress(1e6, 2e6)),
        ("  50%|█████     | 1.00G/2.00G [00:01<00:01, 1.00GB/s]", progress(1e9, 2e9)),
        # rounding can make n_fmt exceed total_fmt: clamp
        ("100%|██████████| 2.01k/2.00k [00:01<00:00]", progress(2000, 2000)),
        # custom bar_format without n/total: fall back to the percentage
        ("Working: 42%|████▏     |", progress(42, 100, "Working")),
        # unknown total
        ("123it [00:01, 99.9it/s]", progress(123, 0)),
        ("0it [00:00, ?it/s]", progress(0, 0)),
        ("Reading: 1.26kB [00:00, 34.9MB/s]", progress(1260, 0, "Reading")),
        ("Reading: 0.00B [00:00, ?B/s]", progress(0, 0, "Reading")),
        ("Scanning files: 5123files [1:02:03, 1.37files/s]", progress(5123, 0, "Scanning files")),
    ],
)
def test_tqdm_lines(line: str, expected: ParsedProgress) -> None:
    parsed = parse_progress_line(line)
    assert parsed is not None
    assert parsed.current == pytest.approx(expected.current)
    assert parsed.total == pytest.approx(expected.total)
    assert parsed.message == expected.message


def test_real_tqdm_output_through_the_splitter() -> None:
    """Drive the real tqdm into a buffer and parse what it wrote, redraws and all."""
    buffer = io.StringIO()
    bar = tqdm.tqdm(total=200, desc="Copying", file=buffer, mininterval=0, miniters=1, ncols=80)
    for _ in range(4):
        bar.update(50)
    bar.close()

    splitter = OutputSplitter()
    lines = splitter.feed(buffer.getvalue().encode()) + splitter.flush()
    parsed = [p for p in map(parse_progress_line, lines) if p is not None]

    assert [p.current for p in parsed][:5] == [0, 50, 100, 150, 200]
    assert {p.total for p in parsed} == {200}
    assert {p.message for p in parsed} == {"Copying"}


def test_real_tqdm_unit_scaled_and_unknown_total() -> None:
    buffer = io.StringIO()
    with tqdm.tqdm(
        total=3_000_000, unit="B", unit_scale=True, file=buffer, mininterval=0, miniters=1
    ) as bar:
        bar.update(1_500_000)
    with tqdm.tqdm(desc="Lines", file=buffer, mininterval=0, miniters=1) as bar:
        bar.update(7)

    splitter = OutputSplitter()
    lines = splitter.feed(buffer.getvalue().encode()) + splitter.flush()
    parsed = [p for p in map(parse_progress_line, lines) if p is not None]

    assert progress(1.5e6, 3e6) in parsed
    assert progress(7, 0, "Lines") in parsed


# --- false positives --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "",
        "42",
        "Hello, world",
        "2024/01/02",
        "01/02/2024 12:30:45 started",
        "01/02",
        "12:30:45",
        "took 0:00:01",
        "version 1.2/3",
        "Python 3.11/3",
        "HTTP/1.1 200 OK",
        "192.168.1.1",
        "listening on 10.0.0.0/8",
        "GET /api/v1/12/100 HTTP/1.1",
        "/usr/lib/12/100",
        "5/3",
        "ratio 16/9",
        "1/0",
        "1/2.5",
        "1,000/2,000",
        "150%",
        "-5%",
        "change: +5%",
        "1000%",
        "printf('%d of %d', a, b)",
        "file%20name",
        "42%d",
        "got 3 of 10 tests",
        "to-chk=3/5",
        "speed 10.0MB/s",
        "[00:01, 99.9it/s]",
    ],
)
def test_not_progress(line: str) -> None:
    assert parse_progress_line(line) is None


def test_first_valid_candidate_wins() -> None:
    assert parse_progress_line("disk 250% full? no: 30%") == progress(30, 100)
    assert parse_progress_line("2024/01/02 item 3/4") == progress(3, 4)
    assert parse_progress_line("ratio 16/9, item 3/4") == progress(3, 4)


def test_non_matching_line_is_cheap() -> None:
    lines = [
        "2024-01-02 12:30:45 INFO server.handler: GET /api/v1/users/abc returned 200 in 3.5ms",
        "INFO: nothing to see here, the quick brown fox jumps over the lazy dog",
        "Compiling foo v1.2.3 (/home/user/src/foo)",
    ]
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        for line in lines:
            parse_progress_line(line)
    per_line = (time.perf_counter() - start) / (rounds * len(lines))
    # A few microseconds normally; the bound leaves room for slow CI machines.
    assert per_line < 50e-6, f"{per_line * 1e6:.1f} µs per non-matching line"


def test_huge_line_is_bounded() -> None:
    line = "x/" * 500_000 + "42%"
    start = time.perf_counter()
    assert parse_progress_line(line) is None  # only the start of a huge line is examined
    assert time.perf_counter() - start < 0.1


# --- property: never raises, always consistent --------------------------------------------

_PIECES = st.sampled_from(
    [
        "%", "|", "/", "[", "]", "(", ")", " of ", ":", " ", ".", ",", "-", "k", "M", "G",
        "it", "0", "1", "9", "42", "100", "999999999999999999999", "1.5", "██", "━", "╸",
        "[00:01, ", "it/s]", "[00:01<00:02, ", "%|", "| ", "\x1b[31m", "é", "\t",
    ]
)  # fmt: skip
_PROGRESSISH = st.lists(_PIECES, max_size=25).map("".join)


@given(st.one_of(st.text(), _PROGRESSISH))
@example("100%|██████████| 5/3 [00:01<00:00]")
@example("9" * 400 + "it [00:01, 1it/s]")
@example("  1%|" + "|" * 10 + " 999999999999999999G/1k [00:01<00:00]")
def test_parse_never_raises_and_is_consistent(line: str) -> None:
    parsed = parse_progress_line(line)
    if parsed is not None:
        assert parsed.current >= 0
        assert parsed.total >= 0
        if parsed.total > 0:
            assert parsed.current <= parsed.total
        assert parsed.message is None or isinstance(parsed.message, str)


# --- OutputSplitter -----------------------------------------------------------------------


def feed_all(splitter: OutputSplitter, chunks: list[bytes]) -> list[str]:
    lines: list[str] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.flush()


def test_splits_on_lf_crlf_and_bare_cr() -> None:
    splitter = OutputSplitter()
    assert splitter.feed(b"one\ntwo\r\nthree\rfour") == ["one", "two", "three"]
    assert splitter.flush() == ["four"]


def test_crlf_split_across_chunks_ends_one_line() -> None:
    splitter = OutputSplitter()
    assert splitter.feed(b"one\r") == ["one"]  # a bare \r ends the line at once
    assert splitter.feed(b"\ntwo\n") == ["two"]  # ...and the \n that follows is not a new line


def test_empty_chunk_keeps_pending_crlf_state() -> None:
    splitter = OutputSplitter()
    assert splitter.feed(b"one\r") == ["one"]
    assert splitter.feed(b"") == []
    assert splitter.feed(b"\ntwo\n") == ["two"]


def test_empty_lines_are_kept() -> None:
    assert feed_all(OutputSplitter(), [b"a\n\nb\r\rc\n"]) == ["a", "", "b", "", "c"]


def test_tqdm_redraws_become_lines() -> None:
    data = b"\r  0%|   | 0/2 [00:00<?, ?it/s]\r 50%|#  | 1/2 [00:00<00:00]\r100%|## | 2/2\n"
    lines = feed_all(OutputSplitter(), [data])
    assert lines == [
        "",
        "  0%|   | 0/2 [00:00<?, ?it/s]",
        " 50%|#  | 1/2 [00:00<00:00]",
        "100%|## | 2/2",
    ]


def test_multibyte_character_split_across_chunks() -> None:
    data = "héllo wörld ✓\n".encode()
    splitter = OutputSplitter()
    lines = [line for i in range(len(data)) for line in splitter.feed(data[i : i + 1])]
    assert lines == ["héllo wörld ✓"]


def test_invalid_utf8_is_replaced() -> None:
    assert feed_all(OutputSplitter(), [b"bad \xff\xfe byte\n"]) == ["bad \ufffd\ufffd byte"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\x1b[31mred\x1b[0m plain\n", "red plain"),
        (b"\x1b[1;32m 42%\x1b[K\n", " 42%"),
        (b"\x1b[A\x1b[2K  50%|#####     | 5/10\n", "  50%|#####     | 5/10"),
        (b"\x1b]0;window title\x07after\n", "after"),
        (b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n", "link"),
        (b"\x1b(Bcharset\n", "charset"),
        (b"stray \x1b\n", "stray "),
    ],
)
def test_ansi_sequences_are_stripped(raw: bytes, text: str) -> None:
    assert feed_all(OutputSplitter(), [raw]) == [text]


def test_long_line_is_truncated_not_lost() -> None:
    splitter = OutputSplitter(max_line=10)
    assert splitter.feed(b"0123456789abcdef") == ["0123456789"]  # returned as soon as it is full
    assert splitter.feed(b"ghij" * 1000) == []  # the rest of that line is dropped...
    assert splitter.feed(b"klm\nnext\n") == ["next"]  # ...up to the next line break
    assert splitter.flush() == []


def test_line_of_exactly_max_line_is_whole() -> None:
    splitter = OutputSplitter(max_line=10)
    assert splitter.feed(b"0123456789") == []
    assert splitter.feed(b"\n") == ["0123456789"]


def test_long_line_in_one_chunk() -> None:
    splitter = OutputSplitter(max_line=8)
    assert splitter.feed(b"x" * 100 + b"\nshort\n" + b"y" * 20) == ["x" * 8, "short", "y" * 8]
    assert splitter.flush() == []


def test_truncation_does_not_cut_a_character_in_half() -> None:
    splitter = OutputSplitter(max_line=4)
    assert splitter.feed("ab€€\n".encode()) == ["ab"]  # € is 3 bytes: keeping it would need 5
    assert splitter.feed("abc€\n".encode()) == ["abc"]
    assert splitter.feed("abcd€\n".encode()) == ["abcd"]


def test_memory_stays_bounded() -> None:
    splitter = OutputSplitter(max_line=1000)
    for _ in range(200):
        splitter.feed(b"z" * 10_000)
    assert len(splitter._pending) <= 1001


def test_flush_resets() -> None:
    splitter = OutputSplitter()
    splitter.feed(b"partial\r")
    assert splitter.flush() == []
    assert splitter.feed(b"\nx\n") == ["", "x"]  # the old \r no longer swallows this \n


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_max_line_must_be_positive_int(bad: object) -> None:
    with pytest.raises(ValueError, match="max_line"):
        OutputSplitter(max_line=bad)  # type: ignore[arg-type]


@given(
    st.lists(
        st.sampled_from(["a", "é", "✓", "\n", "\r", "\r\n", "42%", " ", "\x1b[1m"]), max_size=40
    ),
    st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=20),
)
def test_chunking_does_not_change_the_lines(pieces: list[str], cuts: list[int]) -> None:
    data = "".join(pieces).encode()
    whole = feed_all(OutputSplitter(), [data])
    chunks: list[bytes] = []
    pos = 0
    i = 0
    while pos < len(data):
        chunks.append(data[pos : pos + cuts[i % len(cuts)]])
        pos += cuts[i % len(cuts)]
        i += 1
    assert feed_all(OutputSplitter(), chunks) == whole

    text = "".join(pieces).replace("\r\n", "\n").replace("\r", "\n")
    expected = text.split("\n")
    if expected[-1] == "":
        expected.pop()  # a final line break leaves nothing for flush()
    expected = [line.replace("\x1b[1m", "") for line in expected]
    assert whole == expected


def test_real_rsync_output_in_chunks_gives_its_rate_and_time_left() -> None:
    """Bytes as rsync 3.x wrote them (``rsync -a --info=progress2 --bwlimit=3000``)."""
    raw = (
        b"\r         32,768   0%    0.00kB/s    0:00:00  "
        b"\r      3,000,000  33%    3.23MB/s    0:00:00 (xfr#1, to-chk=2/4)"
        b"\r      3,393,216  37%    2.95MB/s    0:00:01  "
        b"\r      9,000,000 100%    3.03MB/s    0:00:02 (xfr#3, to-chk=0/4)\n"
    )
    splitter = OutputSplitter()
    lines = [line for i in range(0, len(raw), 7) for line in splitter.feed(raw[i : i + 7])]
    parsed = [parse_progress_line(line) for line in lines if line]
    assert parsed == [
        progress(0, 100, "0.00kB/s"),
        progress(33, 100, "3.23MB/s, 1 file transferred"),
        progress(37, 100, "2.95MB/s, 0:00:01 left"),
        progress(100, 100, "3.03MB/s, 3 files transferred"),
    ]
