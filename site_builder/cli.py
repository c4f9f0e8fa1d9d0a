"""Command line: `python -m site_builder build|serve|check|new`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import BuildFailed, failure_report


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number: use a number between 1 and 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use a number between 1 and 65535")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m site_builder",
                                     description="Build, preview and check a Markdown site (site.yml, content/, "
                                                 "templates/, static/).")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--source", type=Path, default=Path("."), help="site directory (default: current directory)")

    build = sub.add_parser("build", help="render the whole site into _site/ (atomically)")
    common(build)
    build.add_argument("--drafts", action="store_true", help="include pages with draft: true")
    build.add_argument("--base-url", help="absolute URL the site is published at (overrides site.yml base_url)")
    build.add_argument("--out", type=Path, help="output directory (default: SOURCE/_site)")
    build.add_argument("--jobs", type=int, help="worker processes (default: all cores)")

    serve = sub.add_parser("serve", help="live preview with rebuild on save and browser reload")
    common(serve)
    serve.add_argument("--port", type=_port, default=8000, help="port on 127.0.0.1 (default: 8000)")
    serve.add_argument("--drafts", action="store_true", help="include pages with draft: true")

    check = sub.add_parser("check", help="report broken links, missing images, bad front matter, bad math")
    common(check)
    check.add_argument("--drafts", action="store_true", help="check drafts too")
    check.add_argument("--base-url", help="check as published at this URL (overrides site.yml base_url)")

    new = sub.add_parser("new", help='scaffold a post: new "My title"')
    common(new)
    new.add_argument("title")
    return parser


def _fail(exc: BuildFailed, note: str) -> int:
    print(failure_report(exc, note), file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    source: Path = args.source
    if args.command == "build":
        from .build import DEFAULT_OUT, build

        out = args.out or source / DEFAULT_OUT
        try:
            report = build(source, out, drafts=args.drafts, base_url=args.base_url, jobs=args.jobs)
        except BuildFailed as exc:
            return _fail(exc, f"Build failed; {out} was left unchanged")
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"Built {report.pages} pages into {out} in {report.seconds:.2f} s "
              f"({report.static_copied} of {report.static_total} static files copied, the rest unchanged)")
        return 0
    if args.command == "check":
        from .build import check

        errors, warnings = check(source, drafts=args.drafts, base_url=args.base_url)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if errors:
            return _fail(BuildFailed(errors), "Check failed")
        print("Check passed: no broken links, missing images, bad front matter or bad math")
        return 0
    if args.command == "serve":
        from .serve import serve

        try:
            serve(source, port=args.port, drafts=args.drafts)
        except BuildFailed as exc:
            return _fail(exc, "Not serving")
        return 0
    if args.command == "new":
        from .scaffold import new_post

        try:
            path = new_post(source.resolve(), args.title)
        except BuildFailed as exc:
            return _fail(exc, "Nothing created")
        print(f"Created {path} (a draft: preview with `serve --drafts`, publish by removing draft: true)")
        return 0
    return 2
