"""`site.yml`: the one place a site's identity and URLs are declared, validated strictly.

Unknown keys and wrong types are errors naming the key, because a typo in a config file that is silently
ignored is the hardest kind of bug for an author to find.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import BuildFailed, SourceError
from .sources import read_text
from .yaml_source import YamlError, key_line, load_yaml

CONFIG_FILE = "site.yml"


@dataclass(frozen=True)
class NavItem:
    title: str
    url: str


@dataclass(frozen=True)
class SiteConfig:
    """Validated site settings plus the URL pieces every page needs."""

    title: str
    author: str
    description: str
    language: str
    base_url: str  # absolute, always ends with "/": https://user.github.io/repo/
    navigation: tuple[NavItem, ...] = ()
    fingerprint_dirs: tuple[str, ...] = ("css", "js")
    bundle_dirs: tuple[str, ...] = ()

    @cached_property
    def url(self) -> str:
        """Scheme and host without a path (Jekyll's `site.url`)."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @cached_property
    def base_path(self) -> str:
        """Path every internal URL starts with, with slashes at both ends: `/repo/` (or `/`)."""
        return urlsplit(self.base_url).path

    @cached_property
    def baseurl(self) -> str:
        """Jekyll's `site.baseurl`: the base path without its trailing slash (`/repo`, or empty at a root)."""
        return self.base_path.rstrip("/")

    @lru_cache(maxsize=65536)  # every page asks for the same few hundred URLs (navigation, lists, links)
    def relative_url(self, path: str) -> str:
        """Site path -> URL path under the base path; absolute URLs and fragments pass through."""
        if not path or path.startswith(("#", "//")) or urlsplit(path).scheme:
            return path
        if self.baseurl and (path == self.baseurl or path.startswith(self.base_path)):
            return path
        return self.baseurl + (path if path.startswith("/") else "/" + path)

    def absolute_url(self, path: str) -> str:
        """Site path -> absolute URL, for canonical links, feeds and sitemaps."""
        url = self.relative_url(path)
        return url if urlsplit(url).scheme else self.url + url


_SCHEMA: dict[str, tuple[type, bool]] = {
    # key: (type, required)
    "title": (str, True),
    "author": (str, True),
    "description": (str, False),
    "base_url": (str, True),
    "language": (str, False),
    "navigation": (list, False),
    "assets": (dict, False),
}
_ASSET_KEYS = {"fingerprint", "bundles"}
_NAV_KEYS = {"title", "url"}
_TYPE_NAMES = {str: "a string", list: "a list", dict: "a mapping"}


def _type_name(value: Any) -> str:
    return {type(None): "nothing", bool: "a boolean", int: "a number", float: "a number",
            str: "a string", list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def normalise_base_url(value: str) -> str | None:
    """Return `value` as an absolute http(s) URL whose path ends with "/", or None if it is not one."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return None
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return f"{parts.scheme}://{parts.netloc}{path}"


def load_config(source_dir: Path, base_url_override: str | None = None) -> SiteConfig:
    """Read and validate `site.yml` in `source_dir`; raise BuildFailed listing every problem."""
    path = source_dir / CONFIG_FILE
    if not path.is_file():
        raise BuildFailed([SourceError(CONFIG_FILE, None, f"not found in {source_dir}")])
    text = read_text(path, CONFIG_FILE)
    try:
        data = load_yaml(text, CONFIG_FILE)
    except YamlError as exc:
        raise BuildFailed([exc.error]) from None
    if data is None:
        data = {}
    errors: list[SourceError] = []

    def fail(keys: tuple[Any, ...], message: str) -> None:
        errors.append(SourceError(CONFIG_FILE, key_line(text, keys), message))

    if not isinstance(data, dict):
        raise BuildFailed([SourceError(CONFIG_FILE, 1, f"must be a mapping of keys to values, got {_type_name(data)}")])

    for key in data:
        if key not in _SCHEMA:
            fail((key,), f"unknown key '{key}' (allowed: {', '.join(sorted(_SCHEMA))})")
    for key, (kind, required) in _SCHEMA.items():
        if key not in data:
            if required:
                errors.append(SourceError(CONFIG_FILE, None, f"missing required key '{key}'"))
            continue
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            fail((key,), f"'{key}' must be {_TYPE_NAMES[kind]}, got {_type_name(data[key])}")

    base_url = data.get("base_url") if isinstance(data.get("base_url"), str) else None
    if base_url_override is not None:
        base_url = normalise_base_url(base_url_override)
        if base_url is None:
            errors.append(SourceError("--base-url", None,
                                      f"'{base_url_override}' is not an absolute http(s) URL"))
    elif base_url is not None:
        normal = normalise_base_url(base_url)
        if normal is None:
            fail(("base_url",), f"'base_url' must be an absolute http(s) URL like https://user.github.io/repo/, got '{base_url}'")
        base_url = normal

    navigation: list[NavItem] = []
    if isinstance(data.get("navigation"), list):
        for i, item in enumerate(data["navigation"]):
            name = f"navigation[{i}]"
            if not isinstance(item, dict):
                fail(("navigation", i), f"'{name}' must be a mapping with 'title' and 'url', got {_type_name(item)}")
                continue
            for key in item:
                if key not in _NAV_KEYS:
                    fail(("navigation", i, key), f"unknown key '{name}.{key}' (allowed: title, url)")
            for key in sorted(_NAV_KEYS):
                if not isinstance(item.get(key), str):
                    fail(("navigation", i, key), f"'{name}.{key}' must be a string, got {_type_name(item.get(key))}")
            if all(isinstance(item.get(k), str) for k in _NAV_KEYS):
                navigation.append(NavItem(item["title"], item["url"]))

    fingerprint: tuple[str, ...] = ("css", "js")
    bundles: tuple[str, ...] = ()
    if isinstance(data.get("assets"), dict):
        assets = data["assets"]
        for key in assets:
            if key not in _ASSET_KEYS:
                fail(("assets", key), f"unknown key 'assets.{key}' (allowed: bundles, fingerprint)")
        for key in sorted(_ASSET_KEYS & set(assets)):
            value = assets[key]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip("/") for v in value):
                fail(("assets", key), f"'assets.{key}' must be a list of directory names under static/")
                continue
            for i, name in enumerate(value):
                clean = name.strip("/")
                if ".." in Path(clean).parts or Path(clean).is_absolute():
                    fail(("assets", key, i), f"'assets.{key}[{i}]' must be a directory inside static/, got '{name}'")
            if key == "fingerprint":
                fingerprint = tuple(v.strip("/") for v in value)
            else:
                bundles = tuple(v.strip("/") for v in value)

    if errors:
        raise BuildFailed(errors)
    return SiteConfig(
        title=data["title"],
        author=data["author"],
        description=data.get("description", ""),
        language=data.get("language", "en"),
        base_url=base_url or "http://localhost/",
        navigation=tuple(navigation),
        fingerprint_dirs=fingerprint,
        bundle_dirs=bundles,
    )
