"""Markdown -> HTML with markdown-it-py: stable heading ids, a table of contents, tables, footnotes,
Pygments code, build-time MathML, figures for lone images, sized lazy images, and checked links.

Math follows kramdown's rule: `$$...$$` inside a paragraph is inline math, `$$...$$` on lines of its own is
display math. `$...$` and `\\(...\\)` are inline, `\\[...\\]` is display.
Everything that can go wrong is collected with its source line instead of stopping at the first problem.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin

from .highlight import highlight_code
from .mathml import MathError, tex_to_mathml

# Ids the layouts use themselves; a heading with the same text gets a suffix instead.
RESERVED_IDS = frozenset({"main", "top", "site-header", "site-footer", "toc-title", "posts-title"})
_EXPLICIT_ID = re.compile(r"\s*\{#([A-Za-z][\w:.-]*)\}\s*$")
_HTML_URL = re.compile(r"""\b(href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def slugify(text: str) -> str:
    """Heading text -> id, GitHub-style: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"\s+", "-", text.strip()) or "section"


class UniqueIds:
    """Heading ids, unique on a page: a repeated slug gets `-1`, `-2` ... Each slug remembers where its count
    stopped, so N identical headings cost O(N) set lookups (not O(N^2)) and get the ids they always had."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()):
        self.used = set(taken)
        self.next_suffix: dict[str, int] = {}
        self.probes = 0  # set lookups so far, for the test that keeps this linear

    def allocate(self, slug: str) -> str:
        n = self.next_suffix.get(slug, 0)
        while True:
            self.probes += 1
            candidate = f"{slug}-{n}" if n else slug
            if candidate not in self.used:
                break
            n += 1
        self.next_suffix[slug] = n + 1
        self.used.add(candidate)
        return candidate


@dataclass
class Link:
    url: str  # as it ends up in the HTML
    line: int
    kind: str  # "link" or "image"


@dataclass
class Rendered:
    html: str
    toc: list[tuple[int, str, str]] = field(default_factory=list)  # (level, id, text)
    links: list[Link] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    first_heading: str | None = None


@dataclass
class RenderHooks:
    """What the renderer needs from the rest of the build; kept as callables so this module stays pure."""

    # href as written, source line -> href to emit (may add the base path or map a .md file to its URL)
    rewrite_url: Callable[[str, int, list[tuple[int, str]]], str]
    # emitted image src -> (width, height) or None if unknown (e.g. remote); may report errors
    image_size: Callable[[str, int, list[tuple[int, str]]], tuple[int, int] | None]


# --- \( \) and \[ \] math -------------------------------------------------------------------------------

def _bracket_inline(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= state.posMax or src[pos + 1] not in "([":
        return False
    close = "\\)" if src[pos + 1] == "(" else "\\]"
    end = src.find(close, pos + 2, state.posMax)
    if silent:
        return end != -1
    if end == -1:
        token = state.push("math_unterminated", "", 0)
        token.content = src[pos:pos + 2]
        token.markup = close
        state.pos = pos + 2
        return True
    token = state.push("math_inline" if close == "\\)" else "math_bracket_display", "math", 0)
    token.content = src[pos + 2:end]
    token.markup = src[pos:pos + 2]
    state.pos = end + 2
    return True


def _bracket_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    pos = state.bMarks[start] + state.tShift[start]
    if not state.src.startswith("\\[", pos):
        return False
    line = start
    while line < end:
        text = state.src[state.bMarks[line] + state.tShift[line]:state.eMarks[line]].rstrip()
        if text.endswith("\\]") and (line > start or len(text) >= 4):
            break
        if line > start and not text:
            return False  # a blank line before the closing \] : not a math block
        line += 1
    else:
        return False
    if silent:
        return True
    body = state.src[pos + 2:state.eMarks[line]].rstrip()
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = body[:-2]
    token.markup = "\\["
    token.map = [start, line + 1]
    state.line = line + 1
    return True


class MarkdownRenderer:
    """One configured markdown-it parser; `render` is safe to call many times (per process)."""

    def __init__(self) -> None:
        md = MarkdownIt("commonmark", {"html": True, "typographer": True})
        md.enable(["table", "strikethrough", "smartquotes"])
        footnote_plugin(md)
        dollarmath_plugin(md, allow_space=False, allow_digits=False, allow_blank_lines=False,
                          double_inline=True, allow_labels=False)
        md.inline.ruler.before("escape", "math_bracket", _bracket_inline)
        md.block.ruler.before("fence", "math_bracket_block", _bracket_block)
        md.core.ruler.push("site_builder", self._core)
        r = md.add_render_rule
        # markdown-it binds render rules to its renderer: each is called as rule(renderer, tokens, idx, options, env)
        r("fence", lambda _, tokens, idx, *__: highlight_code(tokens[idx].content, tokens[idx].info))
        r("code_block", lambda _, tokens, idx, *__: highlight_code(tokens[idx].content, ""))
        for name in ("math_inline", "math_inline_double", "math_bracket_display", "math_block", "math_unterminated"):
            r(name, lambda _, tokens, idx, *__: tokens[idx].meta.get("html", ""))
        r("figure_open", lambda *_: "<figure>\n")
        r("figure_close", self._figure_close)
        r("image", self._image)
        r("heading_close", self._heading_close)
        r("table_open", lambda *_: '<div class="table-scroll" tabindex="0">\n<table>\n')
        r("table_close", lambda *_: "</table>\n</div>\n")
        r("footnote_block_open", lambda *_: '<section class="footnotes" aria-label="Footnotes">\n<ol class="footnotes-list">\n')
        self.md = md

    # -- core rule: runs after inline parsing, sees the whole token stream --------------------------------
    def _core(self, state) -> None:
        env = state.env
        result: Rendered = env["result"]
        hooks: RenderHooks = env["hooks"]
        first = env["first_line"]
        ids = UniqueIds(RESERVED_IDS)
        errors = result.errors
        tokens = state.tokens
        block_line = first
        for i, token in enumerate(tokens):
            if token.map:
                block_line = first + token.map[0]
            if token.type == "math_block":
                self._math(token, True, block_line, errors)
            elif token.type == "heading_open" and i + 1 < len(tokens):
                self._heading(token, tokens[i + 1], ids, result)
            elif token.type == "html_block":
                self._html(token.content, block_line, result)
            elif token.type == "paragraph_open" and not token.hidden and i + 2 < len(tokens):
                children = tokens[i + 1].children or []
                if len(children) == 1 and children[0].type == "image":
                    token.type, tokens[i + 2].type = "figure_open", "figure_close"
                    token.tag = tokens[i + 2].tag = "figure"
                    tokens[i + 2].meta["caption"] = children[0].attrGet("title") or ""
                    children[0].attrs.pop("title", None)
            if token.type == "inline" and token.children:
                line = block_line
                for child in token.children:
                    if child.type in ("softbreak", "hardbreak"):
                        line += 1
                    elif child.type == "link_open":
                        href = hooks.rewrite_url(child.attrGet("href") or "", line, errors)
                        child.attrSet("href", href)
                        result.links.append(Link(href, line, "link"))
                    elif child.type == "image":
                        src = hooks.rewrite_url(child.attrGet("src") or "", line, errors)
                        child.attrSet("src", src)
                        result.links.append(Link(src, line, "image"))
                        size = hooks.image_size(src, line, errors)
                        if size:
                            child.meta["size"] = size
                    elif child.type in ("math_inline", "math_inline_double"):
                        self._math(child, False, line, errors)
                    elif child.type == "math_bracket_display":
                        self._math(child, True, line, errors)
                    elif child.type == "math_unterminated":
                        errors.append((line, f"unterminated math: '{child.content}' has no closing '{child.markup}'"))
                    elif child.type == "html_inline":
                        self._html(child.content, line, result)
                    elif child.type == "text" and "$$" in child.content:
                        errors.append((line, "unterminated math: '$$' has no closing '$$'"))
                    if child.type == "text" or child.type == "code_inline":
                        line += child.content.count("\n")

    @staticmethod
    def _math(token: Token, display: bool, line: int, errors: list[tuple[int, str]]) -> None:
        try:
            mathml = tex_to_mathml(token.content, display)
        except MathError as exc:
            errors.append((line, f"math does not render: {exc}: {token.content.strip()[:80]!r}"))
            token.meta["html"] = f'<code class="math-error">{escapeHtml(token.content)}</code>'
            return
        token.meta["html"] = f'<div class="math-display">{mathml}</div>\n' if token.type == "math_block" else mathml

    @staticmethod
    def _heading(token: Token, inline: Token, ids: UniqueIds, result: Rendered) -> None:
        children = inline.children or []
        explicit = None
        if children and children[-1].type == "text":
            m = _EXPLICIT_ID.search(children[-1].content)
            if m:  # kramdown's `## Title {#my-id}`
                explicit = m[1]
                children[-1].content = children[-1].content[: m.start()]
                inline.content = _EXPLICIT_ID.sub("", inline.content)
        text = "".join(c.content for c in children if c.type in ("text", "code_inline", "math_inline")).strip()
        unique = ids.allocate(explicit or slugify(text))
        token.attrSet("id", unique)
        level = int(token.tag[1])
        if level == 1 and result.first_heading is None:
            result.first_heading = text
        if level in (2, 3):
            result.toc.append((level, unique, text))

    @staticmethod
    def _html(html: str, line: int, result: Rendered) -> None:
        """Links and images written as raw HTML are checked like Markdown ones."""
        for m in _HTML_URL.finditer(html):
            url = m[2] if m[2] is not None else m[3]
            result.links.append(Link(url, line + html.count("\n", 0, m.start()), "image" if m[1].lower() == "src" else "link"))

    # -- render rules ------------------------------------------------------------------------------------
    @staticmethod
    def _image(_renderer, tokens, idx, options, env) -> str:
        token = tokens[idx]
        alt = escapeHtml("".join(c.content for c in token.children or []) if token.children else token.content)
        attrs = [f'src="{escapeHtml(token.attrGet("src") or "")}"', f'alt="{alt}"']
        title = token.attrGet("title")
        if title:
            attrs.append(f'title="{escapeHtml(title)}"')
        size = token.meta.get("size")
        if size:
            attrs.append(f'width="{size[0]}" height="{size[1]}"')
        attrs.append('loading="lazy" decoding="async"')
        return f"<img {' '.join(attrs)}>"

    @staticmethod
    def _figure_close(_renderer, tokens, idx, options, env) -> str:
        caption = tokens[idx].meta.get("caption", "")
        return (f"<figcaption>{escapeHtml(caption)}</figcaption>\n" if caption else "") + "</figure>\n"

    @staticmethod
    def _heading_close(_renderer, tokens, idx, options, env) -> str:
        opening = tokens[idx - 2] if idx >= 2 else None
        anchor = ""
        if opening is not None and opening.type == "heading_open" and opening.attrGet("id"):
            anchor = (f' <a class="heading-anchor" href="#{opening.attrGet("id")}" '
                      f'aria-label="Link to this section">#</a>')
        return f"{anchor}</{tokens[idx].tag}>\n"

    def render(self, text: str, first_line: int, hooks: RenderHooks) -> Rendered:
        result = Rendered("")
        env = {"result": result, "hooks": hooks, "first_line": first_line}
        result.html = self.md.render(text, env)
        return result
