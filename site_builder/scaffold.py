"""`new "Title"`: start a post with complete front matter, so authors never type it from memory."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from .errors import BuildFailed, SourceError
from .markdown_renderer import slugify
from .pages import CONTENT_DIR, POSTS_DIR
from .site import source_date_epoch


def new_post(site_dir: Path, title: str, today: dt.date | None = None) -> Path:
    """Create content/posts/<slug>.md as a draft; refuses to overwrite an existing file."""
    title = title.strip()
    if not title:
        raise BuildFailed([SourceError("new", None, "the title must not be empty")])
    slug = slugify(title)
    path = site_dir / CONTENT_DIR / POSTS_DIR / f"{slug}.md"
    if path.exists():
        raise BuildFailed([SourceError(str(path.relative_to(site_dir)), None, "already exists; choose another title")])
    if today is None:
        epoch = source_date_epoch()
        today = epoch.date() if epoch else dt.date.today()
    front = yaml.safe_dump({"title": title, "date": today, "summary": "", "tags": [], "draft": True},
                           sort_keys=False, allow_unicode=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}---\n\nWrite the introduction here.\n\n## A first section\n\n", encoding="utf-8")
    return path
