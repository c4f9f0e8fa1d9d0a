"""`serve`: a live preview under the site's base path, rebuilt on every edit, with browser reload.

The `livereload` package watches the sources and pushes reloads over a WebSocket; its server injects the
client script into every HTML page. The site is served by a small WSGI app that behaves like GitHub Pages
(the base path, `dir/` -> `dir/index.html`, 404.html for missing files). When a rebuild fails, the last good
site stays up and every page shows the errors in an overlay until the next successful build.
"""
from __future__ import annotations

import errno
import html
import mimetypes
import socket
import sys
from pathlib import Path
from typing import Callable, Iterable

from . import links
from .errors import BuildFailed, SourceError, failure_report
from .incremental import WATCHED, IncrementalBuilder
from .output import target_path

SERVE_DIR = ".cache/site_builder/serve"
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("application/json", ".json")
mimetypes.add_type("image/svg+xml", ".svg")

OVERLAY_ID = "site-builder-error"


def overlay(error: BuildFailed) -> str:
    items = "".join(f"<li>{html.escape(str(e))}</li>" for e in error.errors)
    return (
        f'<div id="{OVERLAY_ID}" role="alert" style="position:fixed;left:0;right:0;bottom:0;z-index:2147483647;'
        'max-height:60vh;overflow:auto;margin:0;padding:1rem 1.25rem;background:#3b0a0a;color:#fff;'
        'font:14px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;border-top:4px solid #ff5c5c">'
        '<strong>Build failed</strong> &mdash; showing the last good build. Fix the source and save.'
        f'<ul style="margin:.5rem 0 0;padding-left:1.25rem">{items}</ul></div>'
    )


class PreviewApp:
    """WSGI app serving the built site like GitHub Pages would, at the configured base path."""

    def __init__(self, builder: IncrementalBuilder, fallback_base_path: str = "/"):
        self.builder = builder
        self.fallback_base_path = fallback_base_path

    @property
    def base_path(self) -> str:
        site = self.builder.site
        return site.config.base_path if site is not None else self.fallback_base_path

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:  # WSGI hands over the decoded path as Latin-1; the URL was UTF-8
            path = (environ.get("PATH_INFO", "/") or "/").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return self._not_found(start_response)
        base = self.base_path
        if path == base.rstrip("/") or (path == "/" and base != "/"):
            return self._respond(start_response, "302 Found", b"", "text/plain", [("Location", base)])
        if any(ord(c) < 0x20 for c in path) or any(part in (".", "..") for part in path.split("/")):
            return self._not_found(start_response)  # browsers never send these; only a hostile request does
        for candidate in links.output_candidates(path, base) or ():
            try:
                target = target_path(self.builder.out, candidate)
            except BuildFailed:
                break
            if target.is_file():
                if candidate.endswith("/index.html") and not path.endswith("/"):
                    return self._respond(start_response, "301 Moved Permanently", b"", "text/plain",
                                         [("Location", links.url_path(path + "/"))])
                content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                return self._file(start_response, "200 OK", target, content_type)
        return self._not_found(start_response)

    def _not_found(self, start_response: Callable) -> Iterable[bytes]:
        page = self.builder.out / "404.html"
        if page.is_file():
            return self._file(start_response, "404 Not Found", page, "text/html")
        return self._respond(start_response, "404 Not Found", self._html_body(b"<h1>Not found</h1>"), "text/html")

    def _file(self, start_response: Callable, status: str, path: Path, content_type: str) -> Iterable[bytes]:
        body = path.read_bytes()
        if content_type == "text/html":
            body = self._html_body(body)
        return self._respond(start_response, status, body, content_type)

    def _html_body(self, body: bytes) -> bytes:
        if self.builder.error is None:
            return body
        note = overlay(self.builder.error).encode()
        if b"</body>" in body:
            return body.replace(b"</body>", note + b"</body>", 1)
        return body + note

    @staticmethod
    def _respond(start_response: Callable, status: str, body: bytes, content_type: str,
                 extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        if content_type.startswith("text/") or content_type in ("application/json", "image/svg+xml"):
            content_type += "; charset=utf-8"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
                   ("Cache-Control", "no-store")] + (extra or [])
        start_response(status, headers)
        return [body]


def report(builder: IncrementalBuilder, what: str) -> None:
    """What a rebuild did, on stderr; a failure is printed exactly as `build` prints it."""
    if builder.error is not None:
        print(failure_report(builder.error, "Build failed; still serving the last good build"), file=sys.stderr)
    elif what != "nothing":
        print(f"Rebuilt ({what}) in {builder.last_seconds * 1000:.0f} ms", file=sys.stderr)
    sys.stderr.flush()


def check_port(host: str, port: int) -> None:
    """Fail before building (and before saying "Serving on") if the port cannot be listened on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as tornado does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _port_error(host, port, exc) from None


def _port_error(host: str, port: int, exc: OSError) -> BuildFailed:
    if exc.errno == errno.EADDRINUSE:
        message = f"{host}:{port} is already in use (another preview?); choose another with --port N"
    else:
        message = f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    return BuildFailed([SourceError("--port", None, message)])


def serve(site_dir: Path, port: int = 8000, drafts: bool = False, host: str = "127.0.0.1",
          base_url: str | None = None) -> None:
    """Build, then serve and rebuild on every change until interrupted. Raises BuildFailed if the port is
    unusable (nothing is built then)."""
    from livereload import Server
    from livereload.handlers import LiveReloadHandler

    from .config import load_config

    check_port(host, port)
    site_dir = site_dir.resolve()
    builder = IncrementalBuilder(site_dir, site_dir / SERVE_DIR, drafts=drafts, base_url=base_url)
    try:
        builder.full()
        print(f"Built {len(builder.results)} pages in {builder.last_seconds:.2f} s", file=sys.stderr)
    except BuildFailed:
        report(builder, "full")
    try:
        base_path = (builder.site.config if builder.site else load_config(site_dir, base_url)).base_path
    except BuildFailed:
        base_path = "/"  # site.yml itself is broken: serve the error page at the root until it is fixed

    def rebuild() -> None:
        try:
            what = builder.update()
        except BuildFailed:
            what = "failed"
        except Exception as exc:  # a bug in the builder must not stop the preview server either
            builder.error = BuildFailed([SourceError("site_builder", None, f"internal error: {exc!r}")])
            what = "failed"
        report(builder, what)

    # Reload as soon as a rebuild is done (the library's default waits up to 3 s between reloads).
    LiveReloadHandler.DEFAULT_RELOAD_TIME = 0
    server = Server(app=PreviewApp(builder, base_path))
    for name in WATCHED:
        server.watch(str(site_dir / name), rebuild)
    check_port(host, port)  # still free after the build?
    print(f"Serving on http://{host}:{port}{base_path}  (Ctrl+C to stop)", file=sys.stderr)
    sys.stderr.flush()
    try:
        # live_css=False: fingerprinted CSS names change on edit, so a full page reload is the right response.
        server.serve(port=port, host=host, debug=False, live_css=False, restart_delay=0)
    except OSError as exc:  # lost the port in the moment since the check
        raise _port_error(host, port, exc) from None
