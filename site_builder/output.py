"""The output directory: the only code that writes files, and it writes nowhere but inside that directory.

Sources are validated before anything is rendered (a permalink cannot contain `..`, a symbolic link cannot
leave the site, two sources cannot claim one output path), and every path is checked again here, so no input
can make the builder write elsewhere. A build is written into a fresh sibling directory (`_site.tmp-PID`,
marked as ours) that replaces the output only when everything succeeded; a later build removes what a killed
or blocked one left behind, and never touches a directory that is not marked as ours.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import BuildFailed, SourceError

# Marks a directory as written by site_builder, so `--out` may replace it (and a later build may clean it up).
MARKER = ".site_builder_output"
_MARKER_TEXT = b"Written by site_builder; the next build replaces this whole folder.\n"


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


def update_in_place(root: Path, files: dict[str, bytes], copies: dict[str, Path], removed: Iterable[str]) -> None:
    """Change a live output directory (serve's) file by file: each one is replaced atomically, so a reader
    sees the old or the new version of a file, never half of one."""
    for rel, src in sorted(copies.items()):
        _replace(target_path(root, rel), lambda tmp: shutil.copy2(src, tmp))
    for rel in sorted(removed):
        target_path(root, rel).unlink(missing_ok=True)
    for rel, data in files.items():
        _replace(target_path(root, rel), lambda tmp: tmp.write_bytes(data))


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def copy_assets(entries: Iterable[Any], dest: Path, previous: Path | None) -> int:
    """Write every asset (an `assets.AssetEntry`: output path, source file or generated data) into `dest`,
    a fresh directory; returns how many files were really copied.

    Copies keep their source's modification time, so a file whose previous copy has the same size and
    time is unchanged: it is hard-linked from the previous output instead of copied again, and a 20 MB
    model costs nothing to rebuild. (With SOURCE_DATE_EPOCH, output times are clamped and files are copied.)
    """
    copied = 0
    made_dirs: set[Path] = set()
    for entry in entries:
        target = target_path(dest, entry.out)
        if target.parent not in made_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(target.parent)
        if entry.src is None:
            target.write_bytes(entry.data or b"")
            continue
        if previous is not None:
            try:
                old = os.stat(previous / entry.out)
                if old.st_size == entry.size and old.st_mtime_ns == entry.mtime_ns:
                    os.link(previous / entry.out, target)
                    continue
            except OSError:
                pass  # no previous copy, another filesystem, or links not allowed: copy
        shutil.copy2(entry.src, target)
        copied += 1
    return copied


def clamp_times(root: Path, epoch: float) -> None:
    """Give every file and directory the SOURCE_DATE_EPOCH time, so archives of the site are reproducible."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            os.utime(os.path.join(dirpath, name), (epoch, epoch), follow_symlinks=False)
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        for name in dirnames:
            os.utime(os.path.join(dirpath, name), (epoch, epoch))
    os.utime(root, (epoch, epoch))


# -- who writes what --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """One output path and the source that produces it (a page, a copied file, a generated file)."""

    out: str
    source: str  # for messages: content/x.md, static/x.png, the generated feed.xml
    line: int | None = None


def collisions(claims: Iterable[Claim]) -> list[SourceError]:
    """Every output path two sources would write, and every file where another output needs a folder: one
    error each, blaming the later claim and naming the earlier one (generated files come first)."""
    owner: dict[str, tuple[int, Claim]] = {}
    errors = []
    for i, claim in enumerate(claims):
        if claim.out in owner:
            first = owner[claim.out][1]
            errors.append(SourceError(claim.source, claim.line, f"would write {claim.out}, which {first.source} "
                                                                "also writes"))
        else:
            owner[claim.out] = (i, claim)
    reported: set[str] = set()
    for out, (i, claim) in owner.items():
        parts = out.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in owner and folder not in reported:
                reported.add(folder)
                j, file_claim = owner[folder]
                if j > i:
                    errors.append(SourceError(file_claim.source, file_claim.line, f"would write a file {folder} "
                                              f"where {claim.source} needs a folder (for {out})"))
                else:
                    errors.append(SourceError(claim.source, claim.line, f"needs a folder {folder} (for {out}) "
                                              f"where {file_claim.source} writes a file"))
    return errors


# -- the output directory as a whole ---------------------------------------------------------------------

def _is_ours(directory: Path) -> bool:
    return (directory / MARKER).is_file()


def check_output_dir(site_dir: Path, out: Path) -> None:
    """Refuse output paths that would overwrite the sources, a file, or a folder we did not build."""
    out_r, site_r = out.resolve(), site_dir.resolve()
    for protected in (site_r, site_r / "content", site_r / "templates", site_r / "static"):
        if out_r == protected or out_r in protected.parents or (protected != site_r and protected in out_r.parents):
            raise BuildFailed([SourceError("--out", None, f"{out} would overwrite the site's own sources")])
    if out_r in site_r.parents:
        raise BuildFailed([SourceError("--out", None, f"{out} contains the site's sources")])
    if out.exists() and not out.is_dir():
        raise BuildFailed([SourceError("--out", None, f"{out} is not a folder; refusing to replace it")])
    if out.is_dir() and any(out.iterdir()) and not _is_ours(out):
        raise BuildFailed([SourceError("--out", None, f"refusing to replace {out}: it is not empty and was not "
                                                      f"written by site_builder (no {MARKER} file in it); "
                                                      "empty it or choose another --out")])


_LEFTOVER = r"\.(?:tmp|old)-(\d+)(?:-\d+)?"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of an earlier build in this process (serve), not of one running now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(path: Path) -> str | None:
    """Delete a directory of ours, its marker last (so a partly deleted one is still known as ours and
    the next build tries again); returns a warning if some of it could not be deleted."""
    failed: list[str] = []

    def note(_function, name, exc_info) -> None:
        if not failed:
            failed.append(f"{name}: {getattr(exc_info[1], 'strerror', None) or exc_info[1]}")
    for child in sorted(path.iterdir()):
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, onerror=note)
        else:
            try:
                child.unlink()
            except OSError as exc:
                note(None, str(child), (type(exc), exc, None))
    if not failed:
        shutil.rmtree(path, onerror=note)
    if failed:
        return f"could not remove {path} ({failed[0]}); the next build tries again, or remove it by hand"
    return None


def remove_leftovers(out: Path) -> list[str]:
    """Delete `OUT.tmp-PID` and `OUT.old-PID` directories that a killed or blocked build of ours left
    behind (marked as ours, their process gone); returns warnings for any that could not be deleted."""
    pattern = re.compile(re.escape(out.name) + _LEFTOVER)
    warnings = []
    try:
        siblings = list(out.parent.iterdir())
    except OSError:
        return []
    for path in sorted(siblings):
        m = pattern.fullmatch(path.name)
        if m and path.is_dir() and not path.is_symlink() and _is_ours(path) and not _alive(int(m[1])):
            problem = _remove_tree(path)
            if problem:
                warnings.append(problem)
    return warnings


def _free_name(out: Path, kind: str) -> Path:
    path = out.with_name(f"{out.name}.{kind}-{os.getpid()}")
    n = 0
    while path.exists() or path.is_symlink():
        n += 1
        path = out.with_name(f"{out.name}.{kind}-{os.getpid()}-{n}")
    return path


def _failure(path: Path, what: str, exc: OSError) -> BuildFailed:
    return BuildFailed([SourceError(str(path), None, f"{what} ({exc.strerror or exc})")])


def stage(out: Path) -> Path:
    """A fresh, marked directory beside `out` to build into."""
    tmp = _free_name(out, "tmp")
    try:
        tmp.mkdir(parents=True)
        (tmp / MARKER).write_bytes(_MARKER_TEXT)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _failure(out.parent, f"cannot create the build directory {tmp.name} here", exc) from None
    return tmp


def discard(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


def swap_in(tmp: Path, out: Path) -> list[str]:
    """Replace `out` with `tmp`: two renames, so readers see the old or the new site, never a mix.
    Returns warnings (an old tree that could not be deleted); raises BuildFailed if `out` cannot be replaced."""
    old = _free_name(out, "old")
    moved = False
    try:
        if out.exists() or out.is_symlink():
            os.replace(out, old)
            moved = True
        os.replace(tmp, out)
    except OSError as exc:
        if moved and not out.exists():
            os.replace(old, out)
        raise _failure(out, "cannot replace it with the new build", exc) from None
    if moved:
        problem = _remove_tree(old)
        if problem:
            return [problem]
    return []
