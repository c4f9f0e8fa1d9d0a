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
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .config import SiteConfig
from .errors import SourceError
from .output import target_path

STATIC_DIR = "static"
HASH_LENGTH = 10


@dataclass(frozen=True)
class AssetEntry:
    out: str  # path inside the output directory
    src: Path | None  # file to copy, or None for generated content
    data: bytes | None = None
    size: int = 0
    mtime_ns: int = 0


class AssetError(LookupError):
    pass


@dataclass
class AssetPlan:
    base_path: str
    entries: dict[str, AssetEntry]  # output path -> entry
    logical: dict[str, str]  # path under static/ (or a generated name) -> output path

    def asset_url(self, name: str) -> str:
        """URL of a static file by its path under static/, with any fingerprint applied."""
        key = name.lstrip("/")
        out = self.logical.get(key)
        if out is None:
            raise AssetError(f"asset_url('{name}'): no file static/{key}")
        return self.base_path + out

    def source_for_output(self, out: str) -> AssetEntry | None:
        return self.entries.get(out)


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


def _walk(root: Path) -> list[Path]:
    """Every non-hidden file under root, in a stable order."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return files


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
    """Decide the output path of every static file (and generated asset such as the code-colour CSS)."""
    static = site_dir / STATIC_DIR
    entries: dict[str, AssetEntry] = {}
    logical: dict[str, str] = {}
    errors: list[SourceError] = []
    bundle_files: dict[str, list[tuple[PurePosixPath, AssetEntry]]] = {d: [] for d in config.bundle_dirs}

    def add(name: str, out: str, entry: AssetEntry, origin: str) -> None:
        if out in entries:
            errors.append(SourceError(origin, None, f"would overwrite {out}, which another file also produces"))
            return
        entries[out] = entry
        logical[name] = out

    sources: list[tuple[PurePosixPath, Path | None, bytes | None]] = []
    if static.is_dir():
        sources.extend((PurePosixPath(p.relative_to(static).as_posix()), p, None) for p in _walk(static))
    sources.extend((PurePosixPath(name), None, data) for name, data in sorted(generated.items()))

    for rel, path, data in sources:
        if path is not None:
            st = path.stat()
            size, mtime = st.st_size, st.st_mtime_ns
        else:
            size, mtime = len(data or b""), 0
        origin = f"{STATIC_DIR}/{rel}" if path is not None else f"(generated) {rel}"
        bundle = under_any(rel, config.bundle_dirs)
        if bundle is not None:
            bundle_files[bundle].append((rel, AssetEntry("", path, data, size, mtime)))
            continue
        if under_any(rel, config.fingerprint_dirs) is not None:
            digest = file_digest(path, size, mtime) if path is not None else hashlib.sha256(data).hexdigest()
            out = _fingerprinted(rel, digest)
        else:
            out = str(rel)
        add(str(rel), out, AssetEntry(out, path, data, size, mtime), origin)

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
            add(str(rel), out, AssetEntry(out, entry.src, entry.data, entry.size, entry.mtime_ns), f"{STATIC_DIR}/{rel}")

    content = site_dir / "content"
    for path in content_files or []:
        rel = path.relative_to(content).as_posix()
        st = path.stat()
        add(f"content:{rel}", rel, AssetEntry(rel, path, None, st.st_size, st.st_mtime_ns), f"content/{rel}")
    return AssetPlan(config.base_path, entries, logical), errors


def content_asset_files(site_dir: Path) -> list[Path]:
    """Non-Markdown files under content/ (a post's own images, say): copied beside the pages."""
    content = site_dir / "content"
    if not content.is_dir():
        return []
    return [p for p in _walk(content) if p.suffix != ".md"]


# --- copying -------------------------------------------------------------------------------------------

def copy_assets(plan: AssetPlan, dest: Path, previous: Path | None) -> int:
    """Write every asset into `dest` (a fresh directory); returns how many files were really copied.

    Copies keep their source's modification time, so a file whose previous copy has the same size and
    time is unchanged: it is hard-linked from the previous output instead of copied again, and a 20 MB
    model costs nothing to rebuild. (With SOURCE_DATE_EPOCH, output times are clamped and files are copied.)
    """
    copied = 0
    made_dirs: set[Path] = set()
    for out, entry in plan.entries.items():
        target = target_path(dest, out)
        if target.parent not in made_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(target.parent)
        if entry.src is None:
            target.write_bytes(entry.data or b"")
            continue
        if previous is not None:
            try:
                old = os.stat(previous / out)
                if old.st_size == entry.size and old.st_mtime_ns == entry.mtime_ns:
                    os.link(previous / out, target)
                    continue
            except OSError:
                pass  # no previous copy, another filesystem, or links not allowed: copy
        shutil.copy2(entry.src, target)
        copied += 1
    return copied
