"""What the desktop app's start does before PySide6 (``jobdeck.cli.before_qt``): telling
PySide6's import hook what it would find out, and doing without it when PySide6 changes."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import jobdeck
from jobdeck.cli.before_qt import jobdeck_modules, tell_feature_hook


def test_every_module_of_jobdeck_is_named(tmp_path: Path) -> None:
    names = set(jobdeck_modules())
    root = Path(jobdeck.__file__).parent
    on_disk = {
        ".".join(("jobdeck", *path.relative_to(root).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts
        and all(p.isidentifier() for p in path.relative_to(root).parent.parts)
        and (path.parent / "__init__.py").is_file()
    }
    assert names == on_disk
    assert {"jobdeck", "jobdeck.app", "jobdeck.ui.main_window", "jobdeck.core"} <= names


def test_the_hook_is_told_what_it_has_no_answer_for(monkeypatch: pytest.MonkeyPatch) -> None:
    feature = types.ModuleType("shibokensupport.feature")
    answers = {"kept": 5}
    feature.pyside_feature_dict = answers  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shibokensupport.feature", feature)
    assert tell_feature_hook(["kept", "new"], 0) is True
    assert answers == {"kept": 5, "new": 0}


@pytest.mark.parametrize("feature", [None, types.ModuleType("shibokensupport.feature")])
def test_without_the_hooks_answers_nothing_is_told(
    monkeypatch: pytest.MonkeyPatch, feature: types.ModuleType | None
) -> None:
    # PySide6's own, which may change: the start is then only slower.
    if feature is None:
        monkeypatch.delitem(sys.modules, "shibokensupport.feature", raising=False)
    else:
        monkeypatch.setitem(sys.modules, "shibokensupport.feature", feature)
    assert tell_feature_hook(["jobdeck.app"], 0) is False
