"""Tests for jobdeck.runtime.protocol: the NDJSON channel schema and its framing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobdeck.runtime.protocol import (
    LOG_LEVELS,
    MAX_LINE_BYTES,
    MESSAGE_TYPES,
    CancelMsg,
    CompletedMsg,
    FailedMsg,
    Heartbeat,
    Hello,
    LineBuffer,
    LogMsg,
    Message,
    ProgressMsg,
    ProtocolError,
    Started,
    encode_message,
    parse_message,
)

JOB = "01J0ABCDEF"
TS = 1_718_000_000.25

ALL_MESSAGES: list[Message] = [
    Hello(JOB, "s3cr3t", TS),
    Started(JOB, TS),
    ProgressMsg(JOB, TS, 12.0, 100.0),
    ProgressMsg(JOB, TS, 3.0, 0.0, "counting", {"files": ["a", "b"], "rate": 1.5}),
    Heartbeat(JOB, TS),
    LogMsg(JOB, TS, "warning", "disk almost full ✓"),
    CompletedMsg(JOB, TS),
    CompletedMsg(JOB, TS, {"rows": 3, "ok": True, "nested": [1, None, "x"]}),
    CompletedMsg(JOB, TS, [1, 2, 3]),
    CompletedMsg(JOB, TS, "done"),
    FailedMsg(JOB, TS, "boom"),
    FailedMsg(JOB, TS, "boom", "Traceback (most recent call last):\n  ...\nValueError: boom"),
    CancelMsg(JOB, TS),
    CancelMsg(JOB, TS, "user pressed cancel"),
]


def line(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def base(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "jobId": JOB, "timestamp": TS, **fields}


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("msg", ALL_MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: Message) -> None:
    encoded = encode_message(msg)
    assert encoded.endswith(b"\n")
    assert encoded.count(b"\n") == 1
    assert parse_message(encoded) == msg
    assert parse_message(encoded.decode()) == msg


def test_every_type_is_covered() -> None:
    wire_types = {json.loads(encode_message(m))["type"] for m in ALL_MESSAGES}
    assert wire_types == set(MESSAGE_TYPES)


def test_encoding_uses_camel_case_and_omits_absent_optionals() -> None:
    assert json.loads(encode_message(Hello(JOB, "tok", TS))) == {
        "type": "hello",
        "jobId": JOB,
        "timestamp": TS,
        "token": "tok",
    }
    assert json.loads(encode_message(FailedMsg(JOB, TS, "e"))) == base("failed", error="e")
    assert json.loads(encode_message(CancelMsg(JOB, TS))) == base("cancel")
    assert json.loads(encode_message(CompletedMsg(JOB, TS))) == base("completed")


def test_encoding_is_compact_utf8() -> None:
    encoded = encode_message(LogMsg(JOB, TS, "info", "héllo"))
    assert "héllo".encode() in encoded
    assert b": " not in encoded


def test_lone_surrogate_still_encodes_to_valid_utf8() -> None:
    msg = LogMsg(JOB, TS, "info", "bad \ud800 half")
    encoded = encode_message(msg)
    encoded.decode("utf-8")  # must not raise
    assert parse_message(encoded) == msg


# --- parsing valid input --------------------------------------------------------------------


def test_percent_becomes_current_of_100() -> None:
    msg = parse_message(line(**base("progress", percent=42.5)))
    assert msg == ProgressMsg(JOB, TS, 42.5, 100.0)


def test_current_without_total_has_unknown_total() -> None:
    assert parse_message(line(**base("progress", current=7))) == ProgressMsg(JOB, TS, 7, 0)


def test_current_above_total_is_clamped_to_total() -> None:
    assert parse_message(line(**base("progress", current=11, total=10))) == ProgressMsg(
        JOB, TS, 10, 10
    )
    assert parse_message(line(**base("progress", current=11, total=0))) == ProgressMsg(
        JOB, TS, 11, 0
    )


def test_optional_fields_may_be_null() -> None:
    msg = parse_message(line(**base("progress", current=1, total=None, message=None, data=None)))
    assert msg == ProgressMsg(JOB, TS, 1, 0)
    assert parse_message(line(**base("failed", error="e", stack=None))) == FailedMsg(JOB, TS, "e")


def test_unknown_keys_are_ignored() -> None:
    assert parse_message(line(**base("heartbeat", extra={"x": 1}))) == Heartbeat(JOB, TS)


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_trailing_line_break_is_accepted(ending: bytes) -> None:
    assert parse_message(line(**base("started")) + ending) == Started(JOB, TS)


def test_integer_timestamp_and_numbers() -> None:
    msg = parse_message(line(type="progress", jobId=JOB, timestamp=1718000000, current=3, total=4))
    assert msg == ProgressMsg(JOB, 1718000000.0, 3.0, 4.0)
    assert isinstance(msg, ProgressMsg)
    assert isinstance(msg.timestamp, float)
    assert isinstance(msg.current, float)


@pytest.mark.parametrize("level", LOG_LEVELS)
def test_every_log_level(level: str) -> None:
    assert parse_message(line(**base("log", level=level, message="m"))) == LogMsg(
        JOB, TS, level, "m"
    )


def test_line_of_exactly_max_bytes_is_accepted() -> None:
    prefix = line(**base("log", level="info", message=""))
    filler = MAX_LINE_BYTES - len(prefix)
    data = prefix[:-2] + b"x" * filler + b'"}'
    assert len(data) == MAX_LINE_BYTES
    msg = parse_message(data + b"\r\n")
    assert isinstance(msg, LogMsg)
    assert len(msg.message) == filler


# --- every error path --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"x" * (MAX_LINE_BYTES + 1), f"more than the limit of {MAX_LINE_BYTES}"),
        ("é" * (MAX_LINE_BYTES // 2 + 1), f"more than the limit of {MAX_LINE_BYTES}"),
        (b'{"type": "started", "jobId": "\xff"}', r"not valid UTF-8 \(bad byte at position 30\)"),
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"{not json}", "not valid JSON"),
        (b'{"type": "started"', "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, got an array"),
        (b'"started"', "must be a JSON object, got a string"),
        (b"42", "must be a JSON object, got a number"),
        (b"null", "must be a JSON object, got null"),
        (b"true", "must be a JSON object, got a boolean"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not valid JSON"),
        (b'{"x": ' + b"9" * 5000 + b"}", "an integer with too many digits"),
        (line(jobId=JOB, timestamp=TS), "message has no 'type'"),
        (line(type=3, jobId=JOB, timestamp=TS), "message 'type' must be a string, got 3"),
        (line(type="explode", jobId=JOB, timestamp=TS), "unknown message type 'explode'"),
        (line(type="started", timestamp=TS), "started.jobId is required but missing"),
        (line(type="started", jobId=7, timestamp=TS), "started.jobId must be a string, got 7"),
        (line(type="started", jobId="", timestamp=TS), "started.jobId must not be empty"),
        (line(type="started", jobId=JOB), "started.timestamp is required but missing"),
        (
            line(type="started", jobId=JOB, timestamp="now"),
            "started.timestamp must be a non-negative number, got 'now'",
        ),
        (line(type="started", jobId=JOB, timestamp=-1), "started.timestamp must be a non-neg"),
        (line(type="started", jobId=JOB, timestamp=True), "started.timestamp .* got True"),
        (line(**base("hello")), "hello.token is required but missing"),
        (line(**base("hello", token=5)), "hello.token must be a string, got 5"),
        (line(**base("hello", token="")), "hello.token must not be empty"),
        (
            line(**base("progress", percent="x")),
            "progress.percent must be a number between 0 and 100, got 'x'",
        ),
        (line(**base("progress", percent=100.5)), "progress.percent must be a number between"),
        (line(**base("progress", percent=-1)), "progress.percent must be a number between"),
        (line(**base("progress", percent=True)), "progress.percent .* got True"),
        (line(**base("progress", percent=5, current=5)), "either percent or current/total"),
        (line(**base("progress", percent=5, total=5)), "either percent or current/total"),
        (line(**base("progress")), "progress needs either percent"),
        (line(**base("progress", total=5)), "progress needs either percent"),
        (line(**base("progress", current=-1)), "progress.current must be a non-negative number"),
        (line(**base("progress", current="1")), "progress.current must be a non-neg.*got '1'"),
        (line(**base("progress", current=False)), "progress.current .* got False"),
        (line(**base("progress", current=1, total=-2)), "progress.total must be a non-negative"),
        (line(**base("progress", current=1, total=[2])), r"progress.total .* got \[2\]"),
        (line(**base("progress", current=1, message=5)), "progress.message must be a string"),
        (line(**base("progress", current=1, data=[1])), "progress.data must be a JSON object"),
        (line(**base("log", message="m")), "log.level is required but missing"),
        (line(**base("log", level="fatal", message="m")), "log.level must be one of debug, info"),
        (line(**base("log", level="INFO", message="m")), "log.level must be one of"),
        (line(**base("log", level="info")), "log.message is required but missing"),
        (line(**base("log", level="info", message=None)), "log.message must be a string"),
        (line(**base("failed")), "failed.error is required but missing"),
        (line(**base("failed", error={"e": 1})), "failed.error must be a string"),
        (line(**base("failed", error="e", stack=1)), "failed.stack must be a string"),
        (line(**base("cancel", reason=1)), "cancel.reason must be a string"),
        # non-finite numbers, wherever they are
        (b'{"type":"progress","jobId":"j","timestamp":1,"current":NaN}', "NaN"),
        (b'{"type":"progress","jobId":"j","timestamp":1,"percent":Infinity}', "Infinity"),
        (b'{"type":"completed","jobId":"j","timestamp":1,"result":[-Infinity]}', "-Infinity"),
        (b'{"type":"progress","jobId":"j","timestamp":1,"current":1e999}', "too large"),
        (
            b'{"type":"progress","jobId":"j","timestamp":1,"current":1' + b"0" * 400 + b"}",
            "progress.current .* too large for a float",
        ),
    ],
)
def test_errors(data: bytes | str, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        parse_message(data)


def test_error_message_quotes_exactly_what_is_wrong() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_message(line(**base("progress", percent="x")))
    assert str(info.value) == "progress.percent must be a number between 0 and 100, got 'x'"


def test_long_bad_value_is_shortened_in_the_error() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_message(line(**base("hello", token=["x" * 1000])))
    assert len(str(info.value)) < 120


def test_protocol_error_is_a_value_error() -> None:
    assert issubclass(ProtocolError, ValueError)


def test_parse_refuses_other_argument_types() -> None:
    with pytest.raises(ProtocolError, match="must be bytes or str, got int"):
        parse_message(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: ProgressMsg(JOB, TS, float("nan"), 0), "progress.current"),
        (lambda: ProgressMsg(JOB, TS, 5, 4), "must not exceed"),
        (lambda: ProgressMsg(JOB, TS, 1, 2, data=[1]), "progress.data"),  # type: ignore[arg-type]
        (lambda: Started("", TS), "started.jobId must not be empty"),
        (lambda: Heartbeat(JOB, float("inf")), "heartbeat.timestamp"),
        (lambda: LogMsg(JOB, TS, "loud", "m"), "log.level"),
        (lambda: Hello(JOB, "", TS), "hello.token"),
    ],
)
def test_constructing_an_invalid_message_raises(build: Any, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        build()


@pytest.mark.parametrize(
    ("msg", "error"),
    [
        (CompletedMsg(JOB, TS, {1, 2}), "completed message is not JSON-serialisable"),
        (CompletedMsg(JOB, TS, float("nan")), "completed message is not JSON-serialisable"),
        (ProgressMsg(JOB, TS, 1, 2, data={"f": object()}), "progress message is not JSON"),
        (CompletedMsg(JOB, TS, "x" * MAX_LINE_BYTES), "more than the limit"),
    ],
)
def test_encode_errors(msg: Message, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        encode_message(msg)


def test_encode_refuses_cycles_and_non_messages() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ProtocolError, match="not JSON-serialisable"):
        encode_message(CompletedMsg(JOB, TS, cyclic))
    with pytest.raises(ProtocolError, match="not a channel message"):
        encode_message({"type": "started"})  # type: ignore[arg-type]


# --- fuzz: only ProtocolError ever escapes -----------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

FIELD_NAMES = [
    "type", "jobId", "timestamp", "token", "percent", "current", "total", "message", "data",
    "level", "result", "error", "stack", "reason",
]  # fmt: skip


def parse_or_error(data: bytes | str) -> Message | None:
    try:
        return parse_message(data)
    except ProtocolError:
        return None


@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    parse_or_error(data)


@given(json_values)
def test_fuzz_arbitrary_json_values(value: Any) -> None:
    parse_or_error(json.dumps(value))


@given(
    st.sampled_from(ALL_MESSAGES),
    st.lists(
        st.tuples(
            st.sampled_from(FIELD_NAMES),
            st.one_of(st.just(None), st.sampled_from(list(MESSAGE_TYPES)), json_values),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_fuzz_mutated_valid_messages(msg: Message, mutations: list[tuple[str, Any, bool]]) -> None:
    obj = json.loads(encode_message(msg))
    for key, value, delete in mutations:
        if delete:
            obj.pop(key, None)
        else:
            obj[key] = value
    parsed = parse_or_error(json.dumps(obj))
    if parsed is not None:  # whatever parses re-encodes and parses to the same message
        assert parse_message(encode_message(parsed)) == parsed


@given(st.sampled_from(ALL_MESSAGES), st.data())
def test_fuzz_corrupted_bytes(msg: Message, data: st.DataObject) -> None:
    raw = bytearray(encode_message(msg))
    for _ in range(data.draw(st.integers(min_value=1, max_value=5))):
        position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[position] = data.draw(st.integers(min_value=0, max_value=255))
    parse_or_error(bytes(raw))


# --- LineBuffer ------------------------------------------------------------------------------


def test_line_buffer_frames_lines() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert buffer.feed(b":2}\r\n\n  \n") == [b'{"b":2}']  # \r\n stripped, blank lines skipped
    assert buffer.pending_bytes == 0


def test_line_buffer_flush_returns_the_unterminated_tail() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":1}') == []
    assert buffer.flush() == [b'{"a":1}']
    assert buffer.flush() == []


def test_line_buffer_over_long_line_gives_one_error_and_recovers() -> None:
    buffer = LineBuffer(max_line_bytes=10)
    out = buffer.feed(b"0123456789ABC")
    assert len(out) == 1
    assert isinstance(out[0], ProtocolError)
    assert "longer than 10 bytes" in str(out[0])
    assert buffer.pending_bytes == 0  # nothing of the long line is kept
    assert buffer.feed(b"more of the same long line") == []
    assert buffer.pending_bytes == 0
    assert buffer.feed(b"tail\nok\n") == [b"ok"]


def test_line_buffer_over_long_line_inside_one_chunk() -> None:
    buffer = LineBuffer(max_line_bytes=10)
    out = buffer.feed(b"short\n" + b"x" * 50 + b"\nafter\n")
    assert out[0] == b"short"
    assert isinstance(out[1], ProtocolError)
    assert out[2] == b"after"
    assert len(out) == 3


def test_line_buffer_over_long_line_completed_by_a_later_chunk() -> None:
    buffer = LineBuffer(max_line_bytes=10)
    assert buffer.feed(b"12345678") == []
    out = buffer.feed(b"90abc\nnext\n")
    assert len(out) == 2
    assert isinstance(out[0], ProtocolError)
    assert out[1] == b"next"


def test_line_buffer_limits_are_exact() -> None:
    buffer = LineBuffer(max_line_bytes=10)
    assert buffer.feed(b"0123456789\r") == []  # 10 bytes + the \r of a coming \r\n: still fine
    assert buffer.feed(b"\n") == [b"0123456789"]
    out = buffer.feed(b"0123456789a\n")
    assert len(out) == 1
    assert isinstance(out[0], ProtocolError)


def test_line_buffer_default_limit_is_max_line_bytes() -> None:
    buffer = LineBuffer()
    chunk = b"y" * 65536
    errors = []
    for _ in range(MAX_LINE_BYTES // len(chunk) + 2):
        errors += buffer.feed(chunk)
        assert buffer.pending_bytes <= MAX_LINE_BYTES + 1
    assert len(errors) == 1
    assert isinstance(errors[0], ProtocolError)


@pytest.mark.parametrize("bad", [0, -5, 2.0, True])
def test_line_buffer_rejects_bad_limit(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        LineBuffer(bad)


@given(
    st.lists(st.sampled_from(ALL_MESSAGES), max_size=12),
    st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=30),
    st.booleans(),
)
def test_line_buffer_chunking_matches_whole_stream(
    messages: list[Message], cuts: list[int], crlf: bool
) -> None:
    stream = b"".join(encode_message(m) for m in messages)
    if crlf:
        stream = stream.replace(b"\n", b"\r\n")
    whole = [parse_message(raw) for raw in stream.splitlines() if raw]
    assert whole == messages

    buffer = LineBuffer()
    got: list[Message] = []
    position = 0
    index = 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        for item in buffer.feed(stream[position : position + size]):
            assert isinstance(item, bytes)
            got.append(parse_message(item))
        position += size
        index += 1
    assert buffer.flush() == []
    assert got == whole


@given(st.lists(st.binary(max_size=40), max_size=20), st.integers(min_value=1, max_value=30))
def test_line_buffer_never_holds_more_than_the_limit(chunks: list[bytes], limit: int) -> None:
    buffer = LineBuffer(max_line_bytes=limit)
    for chunk in chunks:
        for item in buffer.feed(chunk):
            if isinstance(item, bytes):
                assert 0 < len(item) <= limit
                assert b"\n" not in item
        assert buffer.pending_bytes <= limit + 1
