"""Every text Jobdeck shows goes through Qt's translations.

A pseudo-locale (every translated text wrapped in brackets: ``[Start]``) is installed
before the real app is built; then the main window, the taskbar, the tray, the settings
dialog and the app's own dialogs are walked with real jobs in every state, and no text
may have a letter outside brackets except data (job titles, messages, ids, type names,
enum choices). The extraction with ``pyside6-lupdate`` finds the texts too, and the
template in ``desktop/jobdeck/translations`` is current.
"""

# Rows and jobs looked up by id are known to exist here; Qt's stubs type menus as QObject.
# mypy: disable-error-code="union-attr,arg-type,attr-defined"

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget

from jobdeck import i18n
from jobdeck.app import JobdeckApp, QuitChoice
from jobdeck.core import JobStatus
from jobdeck.settings import AppSettings
from jobdeck.ui.job_row import ask_to_cancel
from jobdeck.ui.settings_dialog import SettingsDialog

from .ui_walk import visible_texts

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "desktop" / "jobdeck"
TEMPLATE = PACKAGE / "translations" / "jobdeck.ts"


def _translated_sources() -> list[Path]:
    """The files translations/update.sh extracts from: widgets, the app, the built-in job
    types' texts and the desktop integration's (notification buttons)."""
    return [
        *(PACKAGE / "ui").glob("*.py"),
        PACKAGE / "app.py",
        *(PACKAGE / "jobs").glob("*.py"),
        *(PACKAGE / "platform").glob("*.py"),
    ]


MONTHS = r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b"


@pytest.fixture
def pseudo(qapp: QApplication) -> Iterator[i18n.PseudoTranslator]:
    translator = i18n.PseudoTranslator()
    assert QCoreApplication.installTranslator(translator)
    yield translator
    QCoreApplication.removeTranslator(translator)


@pytest.fixture
def app(qapp: QApplication, tmp_path: Path, pseudo, qtbot) -> Iterator[JobdeckApp]:
    settings = AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))
    jobdeck = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=lambda running, processes: QuitChoice.STAY,
        on_quit=lambda: None,
        session_bus=None,
    )
    jobdeck.start()
    yield jobdeck
    jobdeck.shutdown()


def unwrapped(text: str, data: list[str]) -> str:
    """What is left of ``text`` outside brackets, without data, numbers and punctuation:
    a letter left over escaped translation."""
    rest, previous = text, None
    while rest != previous:  # innermost brackets first: "[Failed: [disk full]]"
        previous, rest = rest, re.sub(r"\[[^\[\]]*\]", " ", rest)
    for item in data:
        rest = rest.replace(item, " ")
    rest = re.sub(MONTHS, " ", rest)
    return rest if re.search(r"[^\W\d_]", rest) else ""


def test_the_check_finds_unwrapped_text() -> None:
    assert unwrapped("Start", []) == "Start"
    assert unwrapped("[Failed: [disk full]] 3s", []).strip() == "3s"
    assert unwrapped("[Failed: disk full] \u00b7 45%", []) == ""
    assert unwrapped("Copy photos \u2014 [busy]", ["Copy photos"]) == ""
    assert unwrapped("14 Nov 22:13", []) == ""


def run_modal(open_dialog: Callable[[], object]) -> list[tuple[str, str]]:
    """Open a modal dialog, read its texts, press its default (harmless) button."""
    seen: list[tuple[str, str]] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(20, read_and_close)
            return
        seen.extend(visible_texts(box))
        assert isinstance(box, QMessageBox)
        button = box.defaultButton()
        assert button is not None
        button.click()

    QTimer.singleShot(0, read_and_close)
    open_dialog()
    return seen


def test_pseudo_locale_leaves_no_text_untranslated(app: JobdeckApp, qtbot, tmp_path) -> None:
    tracker = app.tracker
    copy = tracker.create_job("copy", title="Copy photos")
    copy.update_progress(3, 10, "IMG_0003.jpg")
    scan = tracker.create_job("command", title="Scan disk")
    scan.update_progress(0, 0, "reading home")
    tracker.cancel_job(scan.job_id)  # running, cancel requested: "(cancelling)"
    music = tracker.create_job("checksum", title="Checksum music")
    waiting = tracker.enqueue(
        "countdown", {"seconds": 5}, title="Wait a while", run_at=time.time() + 3600
    )
    done = tracker.create_job("archive", title="Zip reports")
    tracker.complete_job(done.job_id, success=True)
    notices: list[tuple[str, str, str]] = []
    app.tray.notified.connect(lambda *args: notices.append(args))
    app.tray.notify_after_s = 0
    qtbot.waitUntil(lambda: len(app.taskbar.rows()) == 4, timeout=10_000)
    tracker.complete_job(music.job_id, success=False, error="disk full")
    qtbot.waitUntil(
        lambda: "disk full" in app.taskbar.row_for(music.job_id).message_label.full_text(),
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: len(notices) >= 1, timeout=10_000)
    app.show_job(music.job_id)  # the details of a failure: error tab, traceback toggle
    qtbot.waitUntil(lambda: app.window.model.rowCount() == 5, timeout=10_000)

    texts = list(visible_texts(app.window))
    texts += visible_texts(app.taskbar)
    texts += visible_texts(app.tray.menu)
    texts.append(("tray tooltip", app.tray.tooltip()))
    texts += [(f"notification {n}", text) for n in notices for text in n[1:]]
    dialog = SettingsDialog(app.current_settings(), app.window)
    texts += visible_texts(dialog)
    dialog.deleteLater()
    texts += run_modal(lambda: app._ask_quit(2, 1))
    texts += run_modal(lambda: ask_to_cancel(app.window, tracker.get_job(copy.job_id)))

    data = [tracker.get_job(ctx.job_id) for ctx in (copy, scan, music, done)] + [waiting]
    allowed = [s for job in data for s in (job.title, job.id, job.type, job.progress.message)]
    allowed += ["disk full"]
    allowed += [str(choice) for t in app.registry for p in t.params for choice in p.choices or ()]
    allowed = sorted({s for s in allowed if s}, key=len, reverse=True)
    assert len(texts) > 300  # the walk reached the widgets
    offenders = [(where, text) for where, text in texts if text and unwrapped(text, allowed)]
    assert not offenders, "texts not translated:\n" + "\n".join(
        f"  {where}: {text!r}" for where, text in offenders
    )

    # Look at it: the longer (bracketed) texts must still fit.
    app.window.resize(1280, 800)
    save_screenshot(app.window, tmp_path / "pseudo-main.png")
    app.taskbar.set_enabled(True)
    save_screenshot(app.taskbar, tmp_path / "pseudo-taskbar.png")
    assert_buttons_fit(app.window)
    assert_buttons_fit(app.taskbar)


def save_screenshot(widget: QWidget, path: Path) -> None:
    """Render ``widget`` and keep the PNG (also in $JOBDECK_SCREENSHOTS, for a person to
    look at)."""
    image = widget.grab().toImage()
    assert not image.isNull() and image.format() != QImage.Format.Format_Invalid
    assert image.save(str(path))
    keep = os.environ.get("JOBDECK_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def assert_buttons_fit(root: QWidget) -> None:
    """No visible push button is narrower than its text (a cut-off translation)."""
    cut = []
    for button in root.findChildren(QPushButton):
        if button.isVisibleTo(root) and button.width() < button.minimumSizeHint().width():
            cut.append((button.text(), button.width(), button.minimumSizeHint().width()))
    assert not cut, f"buttons narrower than their text: {cut}"


def test_translate_gives_english_plurals_and_a_translations_own_forms(pseudo) -> None:
    assert i18n.translate("Taskbar", "%n job(s)", None, 3) == "[3 jobs]"
    assert i18n.translate("Taskbar", "%n job(s)", None, 1) == "[1 job]"
    QCoreApplication.removeTranslator(pseudo)
    assert i18n.translate("Taskbar", "%n job(s)", None, 1) == "1 job"
    assert i18n.translate("Taskbar", "%n job(s)", None, 0) == "0 jobs"
    assert i18n.translate("Taskbar", "Nothing running") == "Nothing running"


def test_a_compiled_translation_is_loaded_and_shown(qapp, tmp_path, monkeypatch, qtbot) -> None:
    """The whole path a translator's work takes: a .ts file, compiled by pyside6-lrelease,
    loaded by install_translators for the chosen language, shown by a widget."""
    lrelease = shutil.which("pyside6-lrelease")
    if lrelease is None:
        pytest.skip("pyside6-lrelease is not installed")
    ts = tmp_path / "jobdeck_xx.ts"
    ts.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n'
        '<TS version="2.1" language="de">\n'
        "<context><name>Taskbar</name>\n"
        "<message><source>Nothing running</source>"
        "<translation>Nichts l\u00e4uft</translation></message>\n"
        '<message numerus="yes"><source>%n job(s)</source><translation>'
        "<numerusform>%n Auftrag</numerusform><numerusform>%n Auftr\u00e4ge</numerusform>"
        "</translation></message>\n"
        "</context>\n</TS>\n",
        encoding="utf-8",
    )
    subprocess.run([lrelease, str(ts)], check=True, capture_output=True, timeout=60)
    assert (tmp_path / "jobdeck_xx.qm").is_file()
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    before = set(qapp.findChildren(i18n.QTranslator))
    try:
        assert "jobdeck_xx" in i18n.install_translators(qapp, "xx")
        from jobdeck.ui.taskbar import Taskbar

        from .fakes import FakeSignals, FakeTracker

        tracker = FakeTracker()
        bar = Taskbar(FakeSignals(tracker), tracker)
        qtbot.addWidget(bar)
        assert bar.empty_label.text() == "Nichts l\u00e4uft"
        assert i18n.translate("Taskbar", "%n job(s)", None, 3) == "3 Auftr\u00e4ge"
        assert i18n.translate("Taskbar", "%n job(s)", None, 1) == "1 Auftrag"
    finally:
        for translator in set(qapp.findChildren(i18n.QTranslator)) - before:
            QCoreApplication.removeTranslator(translator)
            translator.deleteLater()


def test_jobdeck_lang_pseudo_installs_the_pseudo_translator(qapp, monkeypatch) -> None:
    monkeypatch.setenv("JOBDECK_LANG", "pseudo")
    before = set(qapp.findChildren(i18n.QTranslator))
    try:
        assert i18n.install_translators(qapp) == ["pseudo"]
        assert QCoreApplication.translate("Any", "Start") == "[Start]"
    finally:
        for translator in set(qapp.findChildren(i18n.QTranslator)) - before:
            QCoreApplication.removeTranslator(translator)
            translator.deleteLater()
    assert QCoreApplication.translate("Any", "Start") == "Start"
    assert i18n.install_translators(qapp, "en") == []


def extract(tmp_path: Path) -> ET.Element:
    lupdate = shutil.which("pyside6-lupdate")
    if lupdate is None:
        pytest.skip("pyside6-lupdate is not installed")
    out = tmp_path / "extracted.ts"
    sources = sorted(str(p) for p in _translated_sources())
    done = subprocess.run(
        [lupdate, *sources, "-no-obsolete", "-locations", "none", "-ts", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return ET.parse(out).getroot()


def messages(root: ET.Element) -> set[tuple[str, str]]:
    return {
        (ctx.findtext("name") or "", msg.findtext("source") or "")
        for ctx in root.iter("context")
        for msg in ctx.iter("message")
    }


def marked_in_code() -> set[tuple[str, str]]:
    """(context, text) of every translate(...) / QT_TRANSLATE_NOOP(...) call with literal
    arguments in the extracted sources, read with Python's own parser."""
    out = set()
    for path in _translated_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            context, text = node.args[0], node.args[1]
            if (
                name in ("translate", "QT_TRANSLATE_NOOP")
                and isinstance(context, ast.Constant)
                and isinstance(text, ast.Constant)
                and isinstance(text.value, str)
            ):
                out.add((str(context.value), text.value))
    return out


def test_lupdate_extracts_the_texts_and_the_template_is_current(tmp_path) -> None:
    found = messages(extract(tmp_path))
    contexts = {context for context, _ in found}
    assert {
        "MainWindow",
        "Taskbar",
        "JobRow",
        "TrayController",
        "JobDetails",
        "LaunchForm",
        "ParamField",
        "SettingsDialog",
        "HistoryModel",
        "JobStatus",
        "Duration",
        "JobdeckApp",
    } <= contexts
    assert ("Taskbar", "%n job(s)") in found
    assert ("JobStatus", "Running") in found  # a QT_TRANSLATE_NOOP table
    assert ("QuitDialog", "Quit Jobdeck?") in found  # (its own module: ui/quit_dialog.py)
    assert len(found) > 150
    in_code = marked_in_code()
    assert in_code - found == set(), "lupdate misses these (a call inside the arguments?)"
    template = messages(ET.parse(TEMPLATE).getroot())
    missing, stale = found - template, template - found
    assert not missing and not stale, (
        "desktop/jobdeck/translations/jobdeck.ts is out of date; run "
        "desktop/jobdeck/translations/update.sh\n"
        f"missing: {sorted(missing)[:10]}\nstale: {sorted(stale)[:10]}"
    )


def test_shipped_translations_keep_every_placeholder() -> None:
    """A translation that drops or renames a {placeholder} would fail when formatted."""
    for ts in sorted(TEMPLATE.parent.glob("jobdeck_*.ts")):
        for message in ET.parse(ts).getroot().iter("message"):
            source = message.findtext("source") or ""
            translation = message.find("translation")
            forms = (
                [f.text or "" for f in translation.iter("numerusform")]
                if translation is not None and message.get("numerus") == "yes"
                else [translation.text or "" if translation is not None else ""]
            )
            wanted = set(re.findall(r"\{\w+\}", source))
            for form in forms:
                if form:
                    assert set(re.findall(r"\{\w+\}", form)) == wanted, (ts.name, source, form)


def test_status_texts_read_the_same_in_english(qapp) -> None:
    from jobdeck.ui.formatting import status_text

    assert [status_text(s) for s in JobStatus] == [
        "Pending",
        "Running",
        "Completed",
        "Failed",
        "Cancelled",
    ]
