"""Copy files and folders, reporting progress in bytes and honouring cancel between chunks."""

import os
import shutil
from pathlib import Path
from typing import Annotated, Any

from jobdeck.core.context import JobContext
from jobdeck.core.registry import Param
from jobdeck.i18n import QT_TRANSLATE_NOOP

CHUNK = 1024 * 1024


def walk_files(source: Path) -> list[Path]:
    """Every regular file under ``source`` (or ``source`` itself), sorted for a stable order."""
    if source.is_file():
        return [source]
    found: list[Path] = []
    for root, dirs, files in os.walk(source):
        dirs.sort()
        found.extend(Path(root) / name for name in sorted(files))
    return [p for p in found if p.is_file() and not p.is_symlink()]


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def copy_files(
    ctx: JobContext,
    source: Annotated[
        Path,
        Param(
            help=QT_TRANSLATE_NOOP("JobType", "A file or a folder to copy"),
            exists="any",
            missing="Choose what to copy",
        ),
    ],
    destination: Annotated[
        Path,
        Param(
            help=QT_TRANSLATE_NOOP("JobType", "The folder to copy into"),
            missing="Choose the folder to copy into",
        ),
    ],
    overwrite: Annotated[
        bool, Param(help=QT_TRANSLATE_NOOP("JobType", "Replace files that already exist"))
    ] = False,
) -> dict[str, Any]:
    """Copy a file or a folder into another folder, with progress in bytes."""
    source = source.expanduser()
    destination = destination.expanduser()
    if not source.exists():  # checked when queued; it may have gone since
        raise FileNotFoundError(f"source does not exist: {source}")
    target_root = destination / source.name
    if source.is_dir() and destination.resolve().is_relative_to(source.resolve()):
        raise ValueError(f"cannot copy {source} into itself ({destination})")
    files = walk_files(source)
    total = sum(p.stat().st_size for p in files)
    ctx.update_progress(0, total, f"Copying {len(files)} files ({human_bytes(total)})")
    done = 0
    copied = 0
    for path in files:
        relative = path.relative_to(source) if source.is_dir() else Path(path.name)
        target = target_root / relative if source.is_dir() else destination / path.name
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} already exists (enable overwrite to replace it)")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".jobdeck-part")
        try:
            with open(path, "rb") as src, open(partial, "wb") as dst:
                while chunk := src.read(CHUNK):
                    ctx.checkpoint()
                    dst.write(chunk)
                    done += len(chunk)
                    ctx.update_progress(done, total, f"{relative}")
            shutil.copystat(path, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        copied += 1
    ctx.update_progress(total, total, f"Copied {copied} files")
    return {"files": copied, "bytes": done, "destination": str(target_root)}
