"""Fixtures shared by every test package: a real headless Chromium and a localhost server for a built site.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright; Playwright never downloads a browser here.
"""
from __future__ import annotations

import functools
import http.server
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Flags that keep Chromium off the (closed) network and quiet in a root, GPU-less sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _SubpathHandler(http.server.SimpleHTTPRequestHandler):
    """Serves `directory` under `prefix` (e.g. /repo/) and 404s everything else, like GitHub Pages."""

    prefix = "/"
    log_requests: list[str]

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if not clean.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_prefix__")  # type: ignore[arg-type]
        return super().translate_path("/" + clean[len(self.prefix):])

    def send_error(self, code, message=None, explain=None):  # GitHub Pages serves 404.html
        if code == 404:
            page = Path(self.directory) / "404.html"  # type: ignore[arg-type]
            if page.exists():
                body = page.read_bytes()
                self.send_response(404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
        super().send_error(code, message, explain)

    def log_message(self, fmt, *args):  # keep pytest output clean, but remember what was asked
        self.log_requests.append(self.path)


@contextmanager
def serve_directory(directory: Path, prefix: str = "/") -> Iterator[tuple[str, list[str]]]:
    """Serve `directory` at http://127.0.0.1:PORT{prefix}; yields (base_url, list of requested paths)."""
    if not prefix.endswith("/"):
        prefix += "/"
    requests: list[str] = []
    handler = type("Handler", (_SubpathHandler,), {"prefix": prefix, "log_requests": requests})
    port = free_port()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}{prefix}", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session; each test opens its own context."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
