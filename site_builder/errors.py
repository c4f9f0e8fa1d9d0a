"""Build errors that point at the author's source: every message names a file and, when known, a line.
`build`, `check` and `serve` all print them with `failure_report`."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SourceError:
    """One problem in one source file, printed as `path:line: message` like a compiler would."""

    path: str
    line: int | None
    message: str
    # For a problem in a template: the pages being rendered when it showed (a broken layout fails on
    # every page that uses it; the build reports it once, with the first page and how many others).
    pages: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: {self.message}"
        if self.pages:
            others = f" and {len(self.pages) - 1} other page(s)" if len(self.pages) > 1 else ""
            text += f" (rendering {self.pages[0]}{others})"
        return text


class BuildFailed(Exception):
    """Raised when the site cannot be built; carries every error found, sorted for stable output."""

    def __init__(self, errors: list[SourceError]):
        self.errors = sorted(set(errors), key=lambda e: (e.path, e.line or 0, e.message, e.pages))
        super().__init__("\n".join(str(e) for e in self.errors))

    def __reduce__(self):  # raised in a worker process, it travels back whole
        return BuildFailed, (self.errors,)


def failure_report(failure: BuildFailed, note: str) -> str:
    """Every error on its own line, then `note` with the count: what a failed build prints."""
    count = len(failure.errors)
    return "\n".join([*map(str, failure.errors), f"{note} ({count} error{'s' if count != 1 else ''})"])
