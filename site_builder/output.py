"""The output directory: the only code that writes files, and it writes nowhere but inside that directory.

Sources are validated before anything is rendered (a permalink cannot contain `..`, a symbolic link cannot
leave the site), and every path is checked again here, so no input can make the builder write elsewhere.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import BuildFailed, SourceError


def target_path(root: Path, rel: str) -> Path:
    """`root/rel`, refusing any `rel` that is absolute, climbs with `..` or hides a NUL or a control character."""
    parts = rel.split("/")
    separators = {os.sep} | ({os.altsep} if os.altsep else set())
    if (not rel or rel.startswith("/") or any(part in ("", ".", "..") for part in parts)
            or any(ord(c) < 0x20 for c in rel) or any(sep != "/" and sep in rel for sep in separators)):
        raise BuildFailed([SourceError("site_builder", None,
                                       f"refusing to write {rel!r}: it is outside the output directory")])
    return root.joinpath(*parts)


def write_file(root: Path, rel: str, data: bytes) -> Path:
    """Write `data` to `root/rel` (a fresh build directory), making folders as needed."""
    path = target_path(root, rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_file_atomic(root: Path, rel: str, data: bytes) -> None:
    """Replace one file of a live directory so a reader sees the old or the new version, never half of one."""
    path = target_path(root, rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def copy_file_atomic(root: Path, rel: str, src: Path) -> None:
    path = target_path(root, rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.copy2(src, tmp)
    os.replace(tmp, path)


def remove_file(root: Path, rel: str) -> None:
    target_path(root, rel).unlink(missing_ok=True)
