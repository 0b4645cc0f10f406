"""A stand-in for the store's supervisor service that is SIGKILLed the moment it has
started a program from an app's queue, before it told the app (the crash case of the
service-held queue on the service's side).

    python service_dies_after_a_queued_start.py RECORDS_DIR SOCKET

Runs the real service (``jobdeck _supervise --serve``), with its queued start followed by
a SIGKILL of itself: nothing after that start (the ``then`` of the end it replaced, its
record file) happens.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "desktop"))

from jobdeck.runtime.supervisor import main
from jobdeck.runtime.supervisor_service import SupervisorService

spawn = SupervisorService._spawn


def spawn_then_die(
    self: SupervisorService, spec: Any, owner: Any = None, *, queued: bool = False
) -> dict[str, Any] | None:
    answer = spawn(self, spec, owner, queued=queued)
    if queued and answer is not None and answer.get("op") == "started":
        os.kill(os.getpid(), signal.SIGKILL)
    return answer


SupervisorService._spawn = spawn_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(["--serve", sys.argv[1], sys.argv[2]]))
