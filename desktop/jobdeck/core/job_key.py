"""A job's key: its type and the params that say which work it does.

Two jobs with the same key do the same work, so the durations of one predict the other's:
the learned ETA (:mod:`.eta`), "slower than usual" and the statistics per job key compare
a job only with earlier runs of its key. What makes two runs comparable is the work, not
how it was asked for: a job type names its identifying params in
:attr:`~jobdeck.core.registry.JobType.key_params` (a command's ``argv``, ``cwd`` and
``shell``, not its environment; without them every param counts), and may write them in
one canonical form (:meth:`~jobdeck.core.registry.JobType.key_values`): the command type
makes the same command in the same folder one key whether it came from the launch form
or from ``jobdeck run`` (see :meth:`jobdeck.jobs.command._CommandType.key_values`).

:data:`KEY_RULE` names the rule; it changes whenever a key computed from the same params
would change, so that what keeps keys across runs (:mod:`.stats_snapshot`) knows to
recompute them. Keys stored by an older rule (the roll-up's) are brought to the current
one where they are read (:meth:`~jobdeck.core.stats_data.StatsData`). No Qt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .registry import JobRegistry

__all__ = ["KEY_RULE", "job_key", "key_in", "parse_key"]

#: The version of the rule that turns params into keys (see the module).
KEY_RULE = 2


def job_key(
    type_name: str, params: Mapping[str, Any], key_params: Iterable[str] | None = None
) -> str:
    """The key of a job of type ``type_name`` with ``params``: a short, stable text.

    ``key_params`` limits the params that count (a missing one counts as absent). Params
    that cannot be written as JSON are compared by their ``repr``; the key is the same for
    the same values whatever the order of the params.
    """
    if key_params is not None:
        wanted = set(key_params)
        params = {name: value for name, value in params.items() if name in wanted}
    import json  # (here: the first window imports this module, and needs no key)

    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=repr)
    return f"{type_name} {text}"


def key_in(registry: JobRegistry | None, type_name: str, params: Mapping[str, Any]) -> str:
    """The key of a job of ``type_name`` with ``params`` as ``registry``'s type makes it
    (:meth:`~jobdeck.core.registry.JobType.key`); every param counts for an unknown type."""
    job_type = registry.get(type_name) if registry is not None else None
    return job_type.key(params) if job_type is not None else job_key(type_name, params)


def parse_key(key: str) -> tuple[str, dict[str, Any]] | None:
    """The type and params a key was made of (None if it is not a key's text)."""
    type_name, _, text = key.partition(" ")
    import json

    try:
        params = json.loads(text) if text else {}
    except ValueError:
        return None
    return (type_name, params) if isinstance(params, dict) else None
