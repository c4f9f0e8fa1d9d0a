"""Static files: what gets copied where, cache-busting names, and copying only what changed.

Rules (also in the README):
- Files in a *fingerprint* directory (site.yml `assets.fingerprint`, default `css` and `js`) are renamed
  with a hash of their content: `css/site.css` -> `css/site.3f2a9c1e0b.css`.
- A *bundle* directory (`assets.bundles`, e.g. `stylizer`) is versioned as one unit: `stylizer/` ->
  `stylizer.<hash of every file in it>/`, file names unchanged, so ES modules and workers that import each
  other by relative URL keep working.
- Everything else (images, `model/`, `vendor/tfjs-4.22.0/` ...) is copied verbatim: such paths are
  already versioned by name, or are not worth renaming.
Templates ask for URLs with `asset_url('css/site.css')`; a name that is not in static/ is a build error.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .config import SiteConfig
from .errors import SourceError
from .links import url_path
from .output import Claim
from .sources import walk

STATIC_DIR = "static"
CONTENT_DIR = "content"
HASH_LENGTH = 10


@dataclass(frozen=True)
class AssetEntry:
    out: str  # path inside the output directory
    src: Path | None  # file to copy, or None for generated content
    data: bytes | None = None
    size: int = 0
    mtime_ns: int = 0
    origin: str = ""  # where it comes from, for messages: static/css/site.css, content/x.png


class AssetError(LookupError):
    pass


@dataclass
class AssetPlan:
    base_path: str
    entries: dict[str, AssetEntry]  # output path -> entry (the first, if two files claim one path)
    logical: dict[str, str]  # path under static/ (or a generated name) -> output path
    claims: list[Claim]  # every (output path, origin), in order, duplicates included, for the collision check

    def asset_url(self, name: str) -> str:
        """URL of a static file by its path under static/, with any fingerprint applied."""
        key = name.lstrip("/")
        out = self.logical.get(key)
        if out is None:
            raise AssetError(f"asset_url('{name}'): no file static/{key}")
        return self.base_path + url_path(out)


_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a file, remembered until the file changes (serve re-plans assets on every change)."""
    key = (str(path), size, mtime_ns)
    digest = _digests.get(key)
    if digest is None:
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        _digests[key] = digest
    return digest


def _fingerprinted(rel: PurePosixPath, digest: str) -> str:
    suffix = "".join(rel.suffixes[-1:])
    stem = rel.name[: len(rel.name) - len(suffix)] if suffix else rel.name
    return str(rel.with_name(f"{stem}.{digest[:HASH_LENGTH]}{suffix}"))


def under_any(rel: PurePosixPath, dirs: tuple[str, ...]) -> str | None:
    for d in dirs:
        if rel.parts[: len(PurePosixPath(d).parts)] == PurePosixPath(d).parts:
            return d
    return None


def plan_assets(site_dir: Path, config: SiteConfig, generated: dict[str, bytes],
                content_files: list[Path] | None = None) -> tuple[AssetPlan, list[SourceError]]:
    """Decide the output path of every static file (and generated asset such as the code-colour CSS).
    Returns the plan and the files that could not be used (links out of the site); collisions between
    outputs are the site's to report (see `AssetPlan.claims`)."""
    static = site_dir / STATIC_DIR
    entries: dict[str, AssetEntry] = {}
    logical: dict[str, str] = {}
    claims: list[Claim] = []
    bundle_files: dict[str, list[tuple[PurePosixPath, AssetEntry]]] = {d: [] for d in config.bundle_dirs}

    def add(name: str, entry: AssetEntry) -> None:
        claims.append(Claim(entry.out, entry.origin))
        if entry.out not in entries:
            entries[entry.out] = entry
            logical[name] = entry.out

    static_files, errors = walk(site_dir, STATIC_DIR)
    sources: list[tuple[PurePosixPath, Path | None, bytes | None]] = []
    sources.extend((PurePosixPath(p.relative_to(static).as_posix()), p, None) for p in static_files)
    sources.extend((PurePosixPath(name), None, data) for name, data in sorted(generated.items()))

    for rel, path, data in sources:
        if path is not None:
            st = path.stat()
            size, mtime = st.st_size, st.st_mtime_ns
        else:
            size, mtime = len(data or b""), 0
        origin = f"{STATIC_DIR}/{rel}" if path is not None else f"the generated {rel}"
        bundle = under_any(rel, config.bundle_dirs)
        if bundle is not None:
            bundle_files[bundle].append((rel, AssetEntry("", path, data, size, mtime, origin)))
            continue
        if under_any(rel, config.fingerprint_dirs) is not None:
            digest = file_digest(path, size, mtime) if path is not None else hashlib.sha256(data).hexdigest()
            out = _fingerprinted(rel, digest)
        else:
            out = str(rel)
        add(str(rel), AssetEntry(out, path, data, size, mtime, origin))

    for bundle, files in bundle_files.items():
        if not files:
            continue  # a bundle that does not exist (yet) is fine until a template asks for it
        whole = hashlib.sha256()
        for rel, entry in files:
            digest = (file_digest(entry.src, entry.size, entry.mtime_ns) if entry.src is not None
                      else hashlib.sha256(entry.data).hexdigest())
            whole.update(f"{rel}\0{digest}\n".encode())
        versioned = f"{bundle}.{whole.hexdigest()[:HASH_LENGTH]}"
        for rel, entry in files:
            out = versioned + "/" + str(rel)[len(bundle) + 1:]
            add(str(rel), AssetEntry(out, entry.src, entry.data, entry.size, entry.mtime_ns, entry.origin))

    content = site_dir / CONTENT_DIR
    for path in content_files or []:
        rel = path.relative_to(content).as_posix()
        st = path.stat()
        add(f"content:{rel}", AssetEntry(rel, path, None, st.st_size, st.st_mtime_ns, f"{CONTENT_DIR}/{rel}"))
    return AssetPlan(config.base_path, entries, logical, claims), errors
