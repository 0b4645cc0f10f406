"""The README's Python code blocks run as written, each on its own, so the README never
drifts from the code.

Each ```python block runs in a fresh interpreter (offscreen Qt, a temporary working
directory, JOBDECK_DB and XDG folders there) and must exit with status 0. A block that is a
fragment and cannot run alone says so in its fence: ```python no-run (keep those few).
A block that uses no Qt (the core API, the worker helper) runs with PySide6 hidden, as the
README promises they need none.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)
#: A block importing any of these needs Qt.
QT_USERS = re.compile(r"PySide6|qasync|jobdeck\.(ui|runtime|app|platform)\b")
HIDE_PYSIDE6 = """\
import sys
class _NoQt:
    def find_spec(self, name, path=None, target=None):
        if name == "PySide6" or name.startswith("PySide6."):
            raise ImportError(f"{name} is hidden: this README block promises it needs no Qt")
sys.meta_path.insert(0, _NoQt())
"""


def blocks() -> list[tuple[str, str, str]]:
    """(heading it is under, fence info, code) of every python block."""
    text = README.read_text(encoding="utf-8")
    out = []
    for match in FENCE.finditer(text):
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.M)
        out.append((headings[-1] if headings else "top", match.group(1).strip(), match.group(2)))
    return out


def block_id(block: tuple[str, str, str]) -> str:
    heading, _info, code = block
    return f"{heading[:30]}: {code.strip().splitlines()[0][:40]}"


ALL = blocks()


def test_the_readme_has_python_blocks_and_few_exceptions() -> None:
    assert len(ALL) >= 3
    skipped = [b for b in ALL if "no-run" in b[1].split()]
    assert len(skipped) <= 2, f"too many no-run blocks: {[block_id(b) for b in skipped]}"


@pytest.mark.parametrize("block", ALL, ids=[block_id(b) for b in ALL])
def test_readme_block_runs_as_written(block: tuple[str, str, str], tmp_path: Path) -> None:
    heading, info, code = block
    if "no-run" in info.split():
        pytest.skip("marked no-run in the README: a fragment")
    script = tmp_path / "block.py"
    needs_qt = bool(QT_USERS.search(code))
    script.write_text(code if needs_qt else HIDE_PYSIDE6 + code, encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JOBDECK_", "QT_", "XDG_")) and k != "PYTHONPATH"
    }
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=str(ROOT / "desktop"),
        JOBDECK_DB=str(tmp_path / "default-jobs.db"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
        HOME=str(tmp_path),
    )
    (tmp_path / "runtime").mkdir(mode=0o700)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, (
        f"README block under {heading!r} failed with status {done.returncode}:\n"
        f"{done.stderr[-3000:]}"
    )
    if "Embedding" in heading:  # the jobs it queued ran to the end
        check = (
            "from jobdeck.core import JobTracker\n"
            "with JobTracker.open('jobs.db', read_only=True) as t:\n"
            "    print(sorted(j.status.value for j in t.list_jobs()))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", check],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.stdout.strip() == "['completed', 'completed']", out.stderr
