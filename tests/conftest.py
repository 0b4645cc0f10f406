"""Session-wide test settings: Qt renders offscreen unless a test asks for a real display."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

pytest_plugins = ["tests.channel_fixtures"]
