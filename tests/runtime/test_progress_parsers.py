"""Progress from more programs (jobdeck.runtime.progress_parsers), read the way a process
job reads it: raw output through OutputSplitter, then parse_progress_line with the
program's ProgramOutput.

The samples in tests/fixtures/progress were captured from real runs on this machine (pv
1.6.20, dd and curl/wget of Debian 12, ffmpeg 8 from the imageio-ffmpeg wheel); the tests
marked ``real`` run the programs themselves when they are installed.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.runtime.output_progress import OutputSplitter, ParsedProgress, parse_progress_line
from jobdeck.runtime.progress_parsers import ProgramOutput

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "progress"


def readings(data: bytes, program: ProgramOutput | None = None) -> list[ParsedProgress]:
    splitter = OutputSplitter()
    lines = splitter.feed(data) + splitter.flush()
    return [p for p in (parse_progress_line(line, program) for line in lines) if p is not None]


def fractions(found: list[ParsedProgress]) -> list[float]:
    return [p.current / p.total for p in found if p.total > 0]


def assert_climbs_to_done(found: list[ParsedProgress]) -> None:
    shown = fractions(found)
    assert len(shown) >= 2, found
    assert shown == sorted(shown), found
    assert shown[-1] == pytest.approx(1.0)


# --- OSC 9;4 ----------------------------------------------------------------------------------

# The sequence as ConEmu and Windows Terminal define it (ESC ] 9 ; 4 ; state ; percent, ended
# by BEL or ESC \); cargo, systemd and PowerShell emit it when the terminal supports it.
OSC = (
    b"\x1b]9;4;3\x07   Compiling proc-macro2\r"
    b"\x1b]9;4;1;12\x1b\\    Building [==>    ] 12/100\r"
    b"\x1b]9;4;1;57\x07\r"
    b"\x1b]9;4;4;57\x07\r"
    b"\x1b]9;4;2;80\x07\r"
    b"\x1b]9;4;1;100\x07    Finished\r"
    b"\x1b]9;4;0\x07\x1b[32mdone\x1b[0m\n"
)


def test_osc_9_4_sequences_are_progress_and_never_leak_into_messages() -> None:
    splitter = OutputSplitter()
    lines = splitter.feed(OSC) + splitter.flush()
    assert lines[-1] == "done"  # state 0 ("remove") and colours are dropped like any escape
    found = [parse_progress_line(line) for line in lines]
    assert found[:6] == [
        ParsedProgress(0, 0, "Compiling proc-macro2"),  # indeterminate
        ParsedProgress(12, 100, "Building [==>    ] 12/100"),
        ParsedProgress(57, 100, None),
        ParsedProgress(57, 100, "paused"),
        ParsedProgress(80, 100, "error"),
        ParsedProgress(100, 100, "Finished"),
    ]
    assert found[6] is None
    assert all("\x1b" not in (p.message or "") for p in found if p is not None)


# --- captured samples -------------------------------------------------------------------------


def test_pv_numeric_percentages_only_when_the_command_is_pv_n() -> None:
    data = (SAMPLES / "pv-n.txt").read_bytes()
    found = readings(data, ProgramOutput(["sh", "-c", "pv -n big.bin | gzip > x.gz"], shell=True))
    assert [p.current for p in found] == [34, 69, 100]
    assert readings(data, ProgramOutput(["python", "count.py"])) == []  # a bare number is not


def test_pv_default_line_with_rate_and_eta() -> None:
    found = readings((SAMPLES / "pv-default.txt").read_bytes(), ProgramOutput(["pv", "big.bin"]))
    assert_climbs_to_done(found)
    assert found[0].message == "9.56MiB/s, 0:00:01 left"


def test_dd_status_progress_counts_bytes_and_its_input_gives_the_total(tmp_path) -> None:
    found = readings((SAMPLES / "dd-progress.txt").read_bytes(), ProgramOutput(["dd"]))
    assert [p.current for p in found] == [10551296, 21037056, 30000000]
    assert all(p.total == 0 for p in found)  # reading a pipe: the size is unknown
    assert found[0].message == "11 MB copied, 10.3 MB/s"
    source = tmp_path / "disk.img"
    with source.open("wb") as f:
        f.truncate(30_000_000)
    program = ProgramOutput(
        ["dd", "if=disk.img", "of=/dev/null", "status=progress"], cwd=str(tmp_path)
    )
    found = readings((SAMPLES / "dd-progress.txt").read_bytes(), program)
    assert [round(p.current / p.total, 2) for p in found] == [0.35, 0.7, 1.0]
    counted = ProgramOutput(["dd", "if=/dev/zero", "bs=1M", "count=20"])
    assert readings(b"10485760 bytes (10 MB, 10 MiB) copied, 1 s, 10 MB/s\n", counted) == [
        ParsedProgress(10485760, 20 * 1024 * 1024, "10 MB copied, 10 MB/s")
    ]


def test_curl_progress_meter() -> None:
    found = readings((SAMPLES / "curl-http.txt").read_bytes(), ProgramOutput(["curl", "-O", "u"]))
    assert_climbs_to_done(found)
    assert found[1] == ParsedProgress(48, 100, "13.8M of 28.6M, 10.0M/s, 0:00:01 left")


def test_wget_bar() -> None:
    found = readings((SAMPLES / "wget.txt").read_bytes(), ProgramOutput(["wget", "u"]))
    assert_climbs_to_done(found)
    assert ParsedProgress(7, 100, "9.77MB/s") in found
    assert ParsedProgress(100, 100, "10.5MB/s, done in 2.7s") in found
    unknown = readings(b"\rbig.bin           [  <=>      ] 462.00M  98.2MB/s\r", None)
    assert unknown == [ParsedProgress(462 * 1024 * 1024, 0, "98.2MB/s")]


@pytest.mark.parametrize("sample", ["ffmpeg-progress-merged.txt", "ffmpeg-stats.txt"])
def test_ffmpeg_progress_and_stats_against_the_input_duration(sample: str) -> None:
    argv = ["ffmpeg", "-i", "in.mp4", "-progress", "pipe:1", "out.mkv"]
    found = readings((SAMPLES / sample).read_bytes(), ProgramOutput(argv))
    assert_climbs_to_done(found)
    assert found[0].total == 4.0  # "Duration: 00:00:04.00" of the input
    limited = ProgramOutput(["ffmpeg", "-i", "in.mp4", "-t", "2", "out.mkv"])
    assert readings(b"out_time_us=1000000\n", limited) == [ParsedProgress(1, 2, None)]


def test_lines_that_only_look_like_these_programs_are_not_progress() -> None:
    for line in [
        "copied, 5 s",
        "frame=abc time=xx",
        "out_time_us=",
        "[ ] nothing",
        "Duration: 00:00:04.00, start: 0",  # no ffmpeg in the command: not progress
        "\x1b]9;4;9;50\x07",
        "  0 1 2 3 4 5",
    ]:
        assert readings(line.encode() + b"\n", ProgramOutput(["sh"])) == [], line


# --- the real programs ------------------------------------------------------------------------


def run_merged(argv: list[str], cwd: Path) -> bytes:
    return subprocess.run(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, check=True
    ).stdout


@pytest.fixture
def big_file(tmp_path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(b"\x5a" * 20_000_000)
    return path


@pytest.fixture
def http_root(tmp_path, big_file) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_real_dd_of_a_file_ends_at_its_size(tmp_path, big_file) -> None:
    argv = ["dd", f"if={big_file.name}", "of=copy.bin", "bs=64k", "status=progress"]
    found = readings(run_merged(argv, tmp_path), ProgramOutput(argv, cwd=str(tmp_path)))
    assert found[-1] == ParsedProgress(20_000_000, 20_000_000, found[-1].message)


@pytest.mark.skipif(shutil.which("pv") is None, reason="pv is not installed")
def test_real_pv_numeric(tmp_path, big_file) -> None:
    argv = ["pv", "-n", "-L", "8m", big_file.name]
    output = subprocess.run(
        argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120
    ).stderr
    found = readings(output, ProgramOutput(argv))
    assert_climbs_to_done(found)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_real_curl(tmp_path, http_root) -> None:
    argv = ["curl", "--limit-rate", "8M", "-o", "got.bin", f"{http_root}/big.bin"]
    found = readings(run_merged(argv, tmp_path), ProgramOutput(argv))
    assert_climbs_to_done(found)


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget is not installed")
def test_real_wget(tmp_path, http_root) -> None:
    argv = ["wget", "--limit-rate=8m", "--progress=bar:force", "-O", "got.bin"]
    argv.append(f"{http_root}/big.bin")
    found = readings(run_merged(argv, tmp_path), ProgramOutput(argv))
    assert_climbs_to_done(found)


# --- a command job, run by the real runner ------------------------------------------------------


def test_a_dd_command_job_shows_its_progress_against_the_input_size(
    qtbot, make_runner, registry, tracker, progress, tmp_path: Path, big_file: Path
) -> None:
    from jobdeck.core import JobStatus
    from jobdeck.jobs import register_builtin_jobs

    from .conftest import finished

    register_builtin_jobs(registry)
    make_runner()
    argv = ["dd", f"if={big_file.name}", "of=copy.bin", "bs=64k", "status=progress"]
    job = tracker.enqueue("command", {"argv": argv, "cwd": str(tmp_path)})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=15_000)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done
    assert progress.totals[job.id] == 20_000_000  # the size of if=, not "unknown"
    assert progress.max_current[job.id] == 20_000_000
    assert "copied" in done.progress.message
