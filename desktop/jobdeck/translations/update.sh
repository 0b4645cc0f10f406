#!/bin/sh
# Refresh Jobdeck's translation files from the sources, then compile them:
#   jobdeck.ts         the template (every text, no translations): start a language from it
#   jobdeck_<lang>.ts  one per language, edited with Qt Linguist (pyside6-linguist)
#   jobdeck_<lang>.qm  what the app loads (made by pyside6-lrelease)
# pyside6-lupdate and pyside6-lrelease come with PySide6-Essentials.
set -eu
cd "$(dirname "$0")"
sources="../ui/*.py ../app.py ../jobs/*.py ../platform/*.py"
extract() {
    # shellcheck disable=SC2086
    pyside6-lupdate $sources -no-obsolete -locations none -ts "$1"
    # lupdate reads Python's "#:" doc comments as notes for translators: drop them
    sed -i '/<extracomment>.*<\/extracomment>/d' "$1"
}
extract jobdeck.ts
for ts in jobdeck_*.ts; do
    [ -e "$ts" ] || continue
    extract "$ts"
    pyside6-lrelease "$ts"
done
