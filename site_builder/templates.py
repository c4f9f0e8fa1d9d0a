"""Jinja2 layouts and includes from templates/, with Jekyll's variable and filter names.

Layout lookup is Jekyll's: front matter `layout: default` renders with templates/default.html. Variables:
`site` (title, description, author, language, url, baseurl, base_url, navigation, posts, time), `page`
(title, date, summary, tags, image, url, layout, toc, prev, next, and any other front-matter key) and
`content` (the page's content as HTML). `asset_url('css/site.css')` gives a fingerprinted URL.
Undefined variables are errors, so a misspelt name fails the build instead of printing nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote_plus

import jinja2
from markupsafe import Markup, escape

from .config import SiteConfig
from .markdown_renderer import slugify

TEMPLATES_DIR = "templates"


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    if isinstance(value, str):
        if value in ("now", "today"):
            raise jinja2.TemplateRuntimeError("the 'now' date would make builds non-deterministic; use site.time")
        return value
    if value is None:
        return ""
    return value.strftime(fmt)


def _xmlschema(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _date_to_string(value: dt.datetime | None, style: str = "") -> str:
    if value is None:
        return ""
    return value.strftime("%d %B %Y" if style == "long" else "%d %b %Y")


def filters(config: SiteConfig) -> dict[str, Callable[..., Any]]:
    """Jekyll/Liquid filter names, so layouts and Markdown can use either dialect's vocabulary."""
    return {
        "relative_url": lambda path: config.relative_url(str(path)),
        "absolute_url": lambda path: config.absolute_url(str(path)),
        "prepend": lambda value, prefix: f"{prefix}{value}",
        "append": lambda value, suffix: f"{value}{suffix}",
        "date": _date,
        "date_to_xmlschema": _xmlschema,
        "date_to_rfc822": lambda v: v.strftime("%a, %d %b %Y %H:%M:%S %z") if v else "",
        "date_to_string": _date_to_string,
        "date_to_long_string": lambda v: _date_to_string(v, "long"),
        "xml_escape": lambda v: str(escape(str(v))),
        "cgi_escape": lambda v: quote_plus(str(v)),
        "url_encode": lambda v: quote_plus(str(v)),
        "slugify": lambda v: slugify(str(v)),
        "strip_html": lambda v: re.sub(r"<[^>]*>", "", str(v)),
        "number_of_words": lambda v: len(re.sub(r"<[^>]*>", " ", str(v)).split()),
        "jsonify": lambda v: Markup(json.dumps(v, default=str, ensure_ascii=False)),
        "downcase": lambda v: str(v).lower(),
        "upcase": lambda v: str(v).upper(),
        "size": len,
        "strip": lambda v: str(v).strip(),
    }


def make_environment(site_dir: Path, config: SiteConfig,
                     asset_url: Callable[[str], str] | None = None) -> jinja2.Environment:
    """The layouts' environment. A site passes `asset_url` with every render (its asset plan may change
    during `serve`); `asset_url` here is a default for templates rendered on their own."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(site_dir / TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(filters(config))
    if asset_url is not None:
        env.globals["asset_url"] = asset_url
    return env


def layout_names(site_dir: Path) -> list[str]:
    """Layouts are the top-level templates/*.html files; `_partials` style subfolders are for includes."""
    folder = site_dir / TEMPLATES_DIR
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.html") if not p.name.startswith("_"))
