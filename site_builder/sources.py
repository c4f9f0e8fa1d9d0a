"""Reading the author's files safely: which files exist under content/ and static/, and their text.

Hidden files and folders (`.git`, `.DS_Store`) are skipped. Symbolic links are followed only while they stay
inside the site directory: one pointing elsewhere (`content/passwd.md -> /etc/passwd`), nowhere, at itself or
at a folder above it is an error naming the link, never a published file or a traceback. Text must be UTF-8
without control characters (HTML and the XML feed and sitemap cannot carry them); a problem names the line.
"""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Iterator

from .errors import BuildFailed, SourceError

# Characters XML 1.0 forbids (so feed.xml and sitemap.xml could not be well-formed); tab, LF and CR are fine.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def control_character_problem(text: str) -> tuple[int, str] | None:
    """(offset, message) for the first control character in `text`, or None."""
    m = CONTROL_CHARACTERS.search(text)
    if m is None:
        return None
    return m.start(), (f"control character U+{ord(m[0]):04X}: remove it (HTML, the Atom feed and the "
                       "sitemap cannot carry it)")


def _link_problem(link: Path, site: Path, ancestors: frozenset[str]) -> str | None:
    """Why the symbolic link `link` may not be followed, or None."""
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        return f"a symbolic link to a missing file or folder ({os.readlink(link)})"
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "a symbolic link that loops (it points at itself through links)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops (it points at itself through links)"
        return f"a symbolic link that cannot be followed ({exc.strerror})"
    if target != site and site not in target.parents:
        return f"a symbolic link to {target}, outside the site directory"
    if str(target) in ancestors:
        return "a symbolic link to a folder that contains it (following it would never end)"
    return None


def walk_entries(site_dir: Path, top: str, errors: list[SourceError]) -> Iterator[tuple[str, os.DirEntry]]:
    """(name relative to the site, directory entry) of every non-hidden file under `site_dir/top`, in a
    stable order; links that may not be followed are added to `errors` instead."""
    site = site_dir.resolve()

    def visit(directory: str, rel: str, ancestors: frozenset[str]) -> Iterator[tuple[str, os.DirEntry]]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            errors.append(SourceError(rel, None, f"cannot read this folder ({exc.strerror})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = f"{rel}/{entry.name}"
            if entry.is_symlink():
                problem = _link_problem(Path(entry.path), site, ancestors)
                if problem:
                    errors.append(SourceError(name, None, problem))
                    continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                yield from visit(entry.path, name, ancestors | {os.path.realpath(entry.path)})
            elif entry.is_file():
                yield name, entry

    root = site_dir / top
    if root.is_dir():
        yield from visit(str(root), top, frozenset({os.path.realpath(root)}))


def walk(site_dir: Path, top: str) -> tuple[list[Path], list[SourceError]]:
    """Every non-hidden file under `site_dir/top`, in a stable order, and the links that were refused."""
    errors: list[SourceError] = []
    return [Path(entry.path) for _, entry in walk_entries(site_dir, top, errors)], errors


def read_text(path: Path, name: str) -> str:
    """The text of a source file; raises BuildFailed naming `name` and the line of any problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BuildFailed([SourceError(name, None, f"cannot read this file ({exc.strerror})")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BuildFailed([SourceError(name, line, f"not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                                                   "save the file as UTF-8")]) from None
    problem = control_character_problem(text)
    if problem is not None:
        offset, message = problem
        raise BuildFailed([SourceError(name, text.count("\n", 0, offset) + 1, message)])
    return text
