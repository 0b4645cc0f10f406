"""The shell helper's messages carry the real time without forking ``date`` per message:
the python3 connector stamps each line as it sends it (resources/jobdeck-job.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from jobdeck.runtime.channel import ChannelServer
from jobdeck.runtime.protocol import LogMsg, ProgressMsg
from tests.runtime.channel_helpers import Recorder

HELPER = Path(__file__).resolve().parents[2] / "resources" / "jobdeck-job.sh"


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_every_message_is_stamped_with_the_time_it_was_sent(
    server: ChannelServer, rec: Recorder, shell: str
) -> None:
    if not shutil.which(shell) or not shutil.which("python3"):
        pytest.skip(f"needs {shell} and python3")
    script = """
job_init
job_progress 5 'a "timestamp":0, inside a message'
job_info '"timestamp":0}'
job_progress 3/4
job_complete
"""
    base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    before = time.time()
    done = subprocess.run(
        [shell, "-c", f'. "{HELPER}"\n{script}'],
        env={**base, **server.register("job-sh"), "JOBDECK_SH_CONNECTOR": "python3"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rec.wait_for_type("job-sh", "completed")
    after = time.time()
    msgs = rec.of("job-sh")
    assert all(before - 1 <= m.timestamp <= after + 1 for m in msgs), msgs
    progress = [m for m in msgs if isinstance(m, ProgressMsg)]
    assert progress[0].message == 'a "timestamp":0, inside a message'
    assert [(m.current, m.total) for m in progress] == [(5, 100), (3, 4)]
    assert [m.message for m in msgs if isinstance(m, LogMsg)] == ['"timestamp":0}']
