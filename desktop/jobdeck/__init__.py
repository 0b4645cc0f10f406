"""Jobdeck: a desktop job monitor and the library behind it."""

__version__ = "0.1.0"
