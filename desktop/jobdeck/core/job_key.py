"""A job's key: its type and the params that say which work it does.

Two jobs with the same key do the same work (the same command on the same folder), so the
durations of one predict the other's: the learned ETA (:mod:`.eta`) and "slower than
usual" compare a running job only with earlier runs of its key. A job type names its
identifying params in :attr:`~jobdeck.core.registry.JobType.key_params` (a command's
``argv``, ``cwd`` and ``shell``, not its environment); without them every param counts.
No Qt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["job_key"]


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
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=repr)
    return f"{type_name} {text}"
