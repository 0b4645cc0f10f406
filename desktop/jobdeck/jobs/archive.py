"""Compress a folder into a .zip or .tar.gz archive, with progress in bytes."""

import os
import zipfile
from enum import Enum
from pathlib import Path
from typing import IO, Annotated, Any

from jobdeck.core.context import JobContext
from jobdeck.core.registry import Param
from jobdeck.i18n import QT_TRANSLATE_NOOP

from .files import CHUNK, walk_files


class ArchiveFormat(Enum):
    ZIP = "zip"
    TAR_GZ = "tar.gz"


class _Counting:
    """A read-only file wrapper that reports bytes read and checks for cancel."""

    def __init__(self, f: IO[bytes], on_read: Any) -> None:
        self._f = f
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size if size and size > 0 else CHUNK)
        self._on_read(len(data))
        return data


def compress_folder(
    ctx: JobContext,
    folder: Annotated[
        Path,
        Param(
            help=QT_TRANSLATE_NOOP("JobType", "The folder to compress"),
            exists="dir",
            missing="Choose a folder",
        ),
    ],
    format: ArchiveFormat = ArchiveFormat.ZIP,
    output: Annotated[
        Path, Param(help=QT_TRANSLATE_NOOP("JobType", "Archive path; empty: next to the folder"))
    ] = Path(),
) -> dict[str, Any]:
    """Compress a folder into a .zip or .tar.gz archive."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    target = output.expanduser() if str(output) not in ("", ".") else None
    if target is None:
        target = folder.parent / f"{folder.name}.{format.value}"
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    files = walk_files(folder)
    total = sum(p.stat().st_size for p in files)
    done = 0
    ctx.update_progress(0, total, f"Compressing {len(files)} files")

    def advanced(n: int) -> None:
        nonlocal done
        ctx.checkpoint()
        done += n
        ctx.update_progress(done, total)

    partial = target.with_name(target.name + ".jobdeck-part")
    try:
        if format is ArchiveFormat.ZIP:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in files:
                    name = str(path.relative_to(folder.parent))
                    ctx.update_progress(done, total, name)
                    with open(path, "rb") as src, zf.open(name, "w") as dst:
                        while chunk := src.read(CHUNK):
                            dst.write(chunk)
                            advanced(len(chunk))
        else:
            import tarfile  # here, not at start-up

            with tarfile.open(partial, "w:gz") as tf:
                for path in files:
                    name = str(path.relative_to(folder.parent))
                    ctx.update_progress(done, total, name)
                    info = tf.gettarinfo(str(path), arcname=name)
                    with open(path, "rb") as src:
                        tf.addfile(info, _Counting(src, advanced))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    ctx.update_progress(total, total, f"Wrote {target.name}")
    return {
        "archive": str(target),
        "files": len(files),
        "bytes": total,
        "size": target.stat().st_size,
    }
