#!/usr/bin/env bash
# Debian/Ubuntu packages Jobdeck needs beyond Python: Qt's runtime libraries, a virtual X
# display (Xvfb) with a tray host for the end-to-end tests and screenshots, fonts, a D-Bus
# daemon for the desktop-integration tests' private session bus, the freedesktop
# validators for the menu entry and AppStream metadata, Chromium (headless) for the browser
# board's tests, task-spooler (tsp), the peer the command-job and API benchmarks measure
# Jobdeck against, PostgreSQL (the shared board's tests start a server of their own in a
# temporary directory; its programs are under /usr/lib/postgresql/<version>/bin), and pv,
# curl and wget, whose progress output the parser tests read from real runs (ffmpeg is too
# big: its tests use captured output).
set -euo pipefail
packages=(
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1
  xvfb xauth x11-utils trayer fonts-dejavu-core
  dbus desktop-file-utils appstream rsync
  chromium task-spooler postgresql pv curl wget
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
