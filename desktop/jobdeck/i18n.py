"""Translations through Qt's own machinery: ``QCoreApplication.translate`` and QTranslator.

Every user-visible text in :mod:`jobdeck.ui` (and the app's own dialogs) goes through
:func:`translate` with a context per class (``translate("Taskbar", "Nothing running")``);
module-level tables of texts are marked with ``QT_TRANSLATE_NOOP(context, text)`` and
translated where they are shown. ``pyside6-lupdate`` (part of PySide6-Essentials) finds
both forms and writes the ``.ts`` files translators edit; ``pyside6-lrelease`` compiles
them to the ``.qm`` files :func:`install_translators` loads (see
``desktop/jobdeck/translations/README.md``).

Placeholders are Python ``str.format`` fields (``"Queued {title}"``): the translated text is
formatted after translation. Counted texts use Qt's ``%n`` with ``n`` (``"%n job(s)"``):
a translation supplies the plural forms its language needs; without one, the English
source's ``(s)`` becomes ``s`` or nothing (see :func:`translate`).

:class:`PseudoTranslator` wraps every text in brackets (``[Start]``): ``JOBDECK_LANG=pseudo
jobdeck`` shows which texts escape translation and whether longer texts still fit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore
from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

__all__ = [
    "PSEUDO",
    "QT_TRANSLATE_NOOP",
    "TRANSLATIONS_DIR",
    "PseudoTranslator",
    "install_translators",
    "translate",
    "ui_languages",
]

log = logging.getLogger(__name__)

#: Where Jobdeck's own ``jobdeck_<language>.qm`` files live (package data).
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
#: The language name that installs :class:`PseudoTranslator`.
PSEUDO = "pseudo"
#: The environment variable that overrides the system's languages (``de``, ``pseudo``).
LANG_ENV = "JOBDECK_LANG"


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Mark ``text`` for extraction into ``context`` and return it unchanged (Qt's
    ``QT_TRANSLATE_NOOP``, typed: PySide6's says ``object``). Translate it where it is shown."""
    return text


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """``QCoreApplication.translate(context, text, disambiguation, n)`` for Jobdeck's texts.

    With ``n`` >= 0, ``%n`` in the result becomes ``n`` (Qt does that) and an untranslated
    English ``(s)`` becomes ``s``, or nothing when ``n`` is 1: ``"%n job(s)"`` reads
    ``1 job`` / ``3 jobs`` without a translation, and a translation's own plural forms win.
    """
    result = QCoreApplication.translate(context, text, disambiguation, n)
    if n >= 0 and "(s)" in result:
        result = result.replace("(s)", "" if n == 1 else "s")
    return result


class PseudoTranslator(QTranslator):
    """A translator for testing: every text comes back wrapped in brackets (``[Start]``),
    Qt's own texts included, so an unwrapped text on screen is one that escaped
    translation, and the longer texts show where a real translation would be cut off."""

    def translate(
        self,
        context: str,
        sourceText: str,
        disambiguation: str | None = None,
        n: int = -1,
    ) -> str:
        if sourceText == "QT_LAYOUT_DIRECTION":  # a setting, not a text: keep left-to-right
            return ""
        return f"[{sourceText}]"

    def isEmpty(self) -> bool:
        return False


def ui_languages(language: str | None = None) -> list[str]:
    """The languages to translate into, most wanted first: ``language``, else
    ``$JOBDECK_LANG``, else the system's UI languages (``de-DE`` gives ``de_DE``, ``de``)."""
    chosen = language or os.environ.get(LANG_ENV, "").strip()
    names = [chosen] if chosen else QLocale.system().uiLanguages()
    out: list[str] = []
    for name in names:
        name = name.replace("-", "_")
        for candidate in (name, name.split("_", 1)[0]):
            if candidate and candidate not in out:
                out.append(candidate)
    return out


def _load(app: QCoreApplication, stem: str, directories: Sequence[Path], language: str) -> bool:
    translator = QTranslator(app)
    for directory in directories:
        if translator.load(f"{stem}_{language}", str(directory)):
            QCoreApplication.installTranslator(translator)
            return True
    translator.deleteLater()
    return False


def install_translators(app: QCoreApplication, language: str | None = None) -> list[str]:
    """Install the translators for ``language`` (see :func:`ui_languages`): Qt's own
    (``qtbase_<lang>.qm``, for standard buttons and dialogs) and Jobdeck's
    (``jobdeck_<lang>.qm`` in :data:`TRANSLATIONS_DIR`). ``pseudo`` installs a
    :class:`PseudoTranslator`. The translators are children of ``app``. Call before the
    widgets are built; returns what was installed (``["qtbase_de", "jobdeck_de"]``).
    English, the source language, needs nothing."""
    installed: list[str] = []
    for lang in ui_languages(language):
        if lang == PSEUDO:
            QCoreApplication.installTranslator(PseudoTranslator(app))
            return [PSEUDO]
        if lang in ("en", "C", "c", "en_US"):
            break  # the source language: nothing to load, and no fallback beyond it
        ours = _load(app, "jobdeck", [TRANSLATIONS_DIR], lang)
        if ours:
            info = QtCore.QLibraryInfo  # (made when first used: English needs none)
            qt_dir = Path(info.path(info.LibraryPath.TranslationsPath))
            if _load(app, "qtbase", [qt_dir], lang):
                installed.append(f"qtbase_{lang}")
            installed.append(f"jobdeck_{lang}")
            break
    if installed:
        log.info("translations installed: %s", ", ".join(installed))
    return installed
