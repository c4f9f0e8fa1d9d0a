"""Front matter: the YAML block between `---` lines at the top of a Markdown file.

Known fields are type-checked so a mistake is reported at its line; other keys are kept and passed to
templates as `page.<key>`, as Jekyll does, so existing Jekyll posts drop in unchanged.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .errors import SourceError
from .yaml_source import YamlError, key_line, load_yaml

KNOWN_FIELDS = ("title", "date", "summary", "layout", "draft", "tags", "image", "permalink")
# Jekyll spellings we understand: `published: false` hides a post, `excerpt`/`description` act as summary.
JEKYLL_ALIASES = ("published", "excerpt", "description")

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                 "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


@dataclass
class FrontMatter:
    title: str | None = None
    date: dt.datetime | None = None
    summary: str = ""
    layout: str | None = None
    draft: bool = False
    tags: tuple[str, ...] = ()
    image: str | None = None
    permalink: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceText:
    """A Markdown file split into its parts; `body_line` is the file line where the body starts."""

    meta: FrontMatter
    body: str
    body_line: int
    yaml_text: str = ""


class FrontMatterError(Exception):
    def __init__(self, errors: list[SourceError]):
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


def split(text: str, path: str) -> tuple[str | None, str, int]:
    """Return (yaml text or None, body, first body line)."""
    text = text.lstrip("\ufeff")
    if not (text.startswith("---\n") or text.startswith("---\r\n") or text.rstrip() == "---"):
        return None, text, 1
    lines = text.splitlines(keepends=True)
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1:]), i + 2
    raise FrontMatterError([SourceError(path, 1, "front matter starts with '---' but has no closing '---' line")])


def parse_date(value: Any) -> dt.datetime | None:
    """YAML dates and datetimes, or Jekyll's string forms; naive times are taken as UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        for fmt in _DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    return None


def permalink_problem(value: str) -> str | None:
    """Why a permalink cannot be a page's URL, or None. Every output file must stay inside the output
    directory, so anything a path could climb or hide with (after percent-decoding) is refused."""
    if not value.startswith("/") or not (value.endswith("/") or value.endswith(".html")):
        return "must start with '/' and end with '/' or '.html'"
    path = unquote(value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return "must not contain control characters"
    if "\\" in path:
        return "must not contain a backslash"
    if "//" in path:
        return "must not contain '//'"
    if any(part in (".", "..") for part in path.split("/")):
        return "must not contain '.' or '..' segments"
    return None


def _kind(value: Any) -> str:
    return {type(None): "nothing", bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", dt.date: "a date", dt.datetime: "a date"}.get(type(value), type(value).__name__)


def parse(text: str, path: str) -> SourceText:
    """Split and validate; raise FrontMatterError listing every bad field with its line."""
    yaml_text, body, body_line = split(text, path)
    if yaml_text is None:
        return SourceText(FrontMatter(), body, body_line)
    try:
        data = load_yaml(yaml_text, path, first_line=2)
    except YamlError as exc:
        raise FrontMatterError([exc.error]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError([SourceError(path, 2, f"front matter must be a mapping of keys to values, got {_kind(data)}")])

    errors: list[SourceError] = []

    def fail(key: str, message: str) -> None:
        errors.append(SourceError(path, key_line(yaml_text, (key,), first_line=2), message))

    meta = FrontMatter()
    for key, value in data.items():
        key = str(key)
        if key in ("title", "summary", "layout", "excerpt", "description", "permalink"):
            if value is None and key != "title":
                continue
            if not isinstance(value, str):
                fail(key, f"'{key}' must be a string, got {_kind(value)}")
            elif key == "title":
                meta.title = value
            elif key == "layout":
                meta.layout = value.strip()
            elif key == "permalink":
                problem = permalink_problem(value)
                if problem:
                    fail(key, f"'permalink' {problem}, got {value!r}")
                else:
                    meta.permalink = value
            elif key == "summary" or not meta.summary:
                meta.summary = value.strip()
            if key in ("excerpt", "description"):
                meta.extra[key] = value
        elif key == "date":
            parsed = parse_date(value)
            if parsed is None:
                fail(key, f"'date' must be a date like 2024-05-01 or '2024-05-01 10:30:00 +0200', got {value!r}")
            else:
                try:
                    parsed.astimezone(dt.timezone.utc)  # feeds and sitemaps need it in UTC
                except OverflowError:
                    fail(key, f"'date' {value!r} leaves the calendar once converted to UTC")
            meta.date = parsed
        elif key in ("draft", "published"):
            if not isinstance(value, bool):
                fail(key, f"'{key}' must be true or false, got {_kind(value)}")
            elif key == "draft":
                meta.draft = meta.draft or value
            else:
                meta.draft = meta.draft or not value
                meta.extra[key] = value
        elif key == "tags":
            if isinstance(value, str):
                meta.tags = tuple(value.split())
            elif isinstance(value, list) and all(isinstance(t, (str, int)) and not isinstance(t, bool) for t in value):
                meta.tags = tuple(str(t) for t in value)
            elif value is not None:
                fail(key, f"'tags' must be a list of strings, got {_kind(value)}")
        elif key == "image":
            if isinstance(value, dict) and isinstance(value.get("path"), str):  # jekyll-seo-tag form
                meta.image = value["path"]
            elif isinstance(value, str):
                meta.image = value
            elif value is not None:
                fail(key, f"'image' must be a path or URL string, got {_kind(value)}")
        else:
            meta.extra[key] = value
    if errors:
        raise FrontMatterError(errors)
    return SourceText(meta, body, body_line, yaml_text)


def suspicious_keys(meta: FrontMatter) -> list[tuple[str, str]]:
    """Unknown keys that look like typos of known ones: [(key, suggestion)]. Reported as warnings by `check`."""
    known = KNOWN_FIELDS + JEKYLL_ALIASES
    found = []
    for key in meta.extra:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if close:
            found.append((key, close[0]))
    return found


_FILENAME_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")


def date_from_filename(stem: str) -> tuple[dt.datetime | None, str]:
    """Jekyll post names `2024-05-01-my-post` give a date and the slug `my-post`."""
    match = _FILENAME_DATE.match(stem)
    if not match:
        return None, stem
    try:
        date = dt.datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=dt.timezone.utc)
    except ValueError:
        return None, stem
    return date, match[4]
