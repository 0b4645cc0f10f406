"""Registries for tests: the runtime knows only the job types a registry holds, so tests that
run programs register the built-in ``command`` type as the app does."""

from __future__ import annotations

from jobdeck.core.registry import JobRegistry
from jobdeck.jobs.command import COMMAND

__all__ = ["with_command"]


def with_command(registry: JobRegistry | None = None) -> JobRegistry:
    """``registry`` (a new one by default) with the ``command`` job type added."""
    registry = JobRegistry() if registry is None else registry
    if "command" not in registry:
        registry.add(COMMAND)
    return registry
