"""Build errors that point at the author's source: every message names a file and, when known, a line."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SourceError:
    """One problem in one source file, printed as `path:line: message` like a compiler would."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class BuildFailed(Exception):
    """Raised when the site cannot be built; carries every error found, sorted for stable output."""

    def __init__(self, errors: list[SourceError]):
        self.errors = sorted(set(errors), key=lambda e: (e.path, e.line or 0, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))
