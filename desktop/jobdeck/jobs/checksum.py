"""Checksum every file in a folder, reporting progress in bytes."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from jobdeck.core.context import JobContext
from jobdeck.core.registry import Param
from jobdeck.i18n import QT_TRANSLATE_NOOP

from .files import CHUNK, walk_files


class Algorithm(Enum):
    SHA256 = "sha256"
    SHA1 = "sha1"
    MD5 = "md5"
    BLAKE2B = "blake2b"


def checksum_folder(
    ctx: JobContext,
    folder: Annotated[
        Path,
        Param(
            help=QT_TRANSLATE_NOOP("JobType", "A file or a folder"),
            exists="any",
            missing="Choose a file or folder",
        ),
    ],
    algorithm: Algorithm = Algorithm.SHA256,
    write_manifest: Annotated[
        bool,
        Param(
            help=QT_TRANSLATE_NOOP(
                "JobType", "Also write <algorithm>sums.txt in the folder (sha256sum -c format)"
            )
        ),
    ] = False,
) -> dict[str, Any]:
    """Compute a checksum of every file in a folder (like sha256sum), with progress."""
    import hashlib  # (when a checksum is made, not when the app starts)

    folder = folder.expanduser()
    if not folder.exists():  # checked when queued; it may have gone since
        raise FileNotFoundError(f"folder does not exist: {folder}")
    files = walk_files(folder)
    total = sum(p.stat().st_size for p in files)
    ctx.update_progress(0, total, f"Hashing {len(files)} files")
    done = 0
    sums: dict[str, str] = {}
    base = folder if folder.is_dir() else folder.parent
    for path in files:
        digest = hashlib.new(algorithm.value)
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                ctx.checkpoint()
                digest.update(chunk)
                done += len(chunk)
                ctx.update_progress(done, total, str(path.relative_to(base)))
        sums[str(path.relative_to(base))] = digest.hexdigest()
    if write_manifest and folder.is_dir():
        manifest = folder / f"{algorithm.value}sums.txt"
        manifest.write_text("".join(f"{h}  {name}\n" for name, h in sums.items()))
    ctx.update_progress(total, total, f"{len(sums)} files hashed")
    # Keep the stored result small for huge folders: the manifest holds everything.
    shown = dict(list(sums.items())[:1000])
    return {"algorithm": algorithm.value, "files": len(sums), "bytes": done, "checksums": shown}
