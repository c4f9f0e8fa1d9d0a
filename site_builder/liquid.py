"""Jekyll's Liquid in Markdown, rendered by python-liquid: a real Liquid engine, so a post dropped in from
Jekyll behaves as it did there and, like Jekyll, cannot reach Python (no attributes, no calls, no imports).

Layouts and includes are Jinja2 templates written by the site's authors (trusted); Markdown is content, which
may come from anywhere (a copied post, a contributor), so it only gets Liquid: data lookups, filters, tags.

Standard Liquid (python-liquid): {{ expr | filter: arg }}, if/elsif/else, unless, case, for, assign,
capture, raw, comment and the standard filters (prepend, append, date, default, size, downcase ...).
Jekyll's additions:
  {% include name.html key="value" other=page.x %}  renders templates/name.html (Jinja2) with `include.KEY`;
      its HTML goes in after Markdown, so Markdown never re-reads it
  {% highlight lang %}...{% endhighlight %}        becomes a fenced code block with the same lines
  {% post_url 2024-05-01-slug %}, {% link content/path.md %}
  filters relative_url, absolute_url, date_to_xmlschema, date_to_rfc822, date_to_string,
      date_to_long_string, xml_escape, cgi_escape, uri_escape, slugify, jsonify, number_of_words
Fenced and inline code and math are cut out before this pass and put back after it, untouched.
An undefined variable is false in `if` and fine for `default`, and an error anywhere it would be printed;
unknown tags and filters are errors too, each naming the line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

import liquid
from liquid import Mode
from liquid.ast import Node
from liquid.builtin.expressions import parse_primitive, tokenize
from liquid.exceptions import FilterArgumentError, LiquidSyntaxError, LiquidTypeError, UndefinedError
from liquid.exceptions import LiquidError as EngineError
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.token import TOKEN_ASSIGN, TOKEN_COLON, TOKEN_COMMA, TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG, TOKEN_WORD
from liquid.token import Token

# Placeholders are control characters, which sources may not contain (sources.py): content cannot forge one.
PLACEHOLDER = re.compile(r"\x02(\d+)(\n*)\x03")
INCLUDE_TOKEN = "\x02I{}\x03"
INCLUDE_TOKEN_RE = re.compile(r"\x02I(\d+)\x03")
_RAW_TAG = re.compile(r"\{%-?\s*(?:raw|endraw)\s*-?%\}")
_HIGHLIGHT = re.compile(r"\{%-?\s*highlight\s+([\w+#.-]+)[^%]*?-?%\}[ \t]*\n?(.*?)\{%-?\s*endhighlight\s*-?%\}", re.S)
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})")
_NO_BLANK = r"(?:[^\n]|\n(?![ \t]*\n))"  # any character, but a span never crosses a blank line
_INLINE = re.compile(
    r"(?P<raw>\{%-?\s*raw\s*-?%\}(?P<rawbody>.*?)\{%-?\s*endraw\s*-?%\})"
    r"|(?P<comment>\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\})"
    rf"|(?P<code>(?P<ticks>`+)(?!`){_NO_BLANK}+?(?<!`)(?P=ticks)(?!`))"
    r"|(?P<dmath>\$\$(?:[^$\n]|\n(?![ \t]*\n)|\$(?!\$))+?\$\$)"
    rf"|(?P<bmath>\\\[{_NO_BLANK}+?\\\])"
    rf"|(?P<pmath>\\\({_NO_BLANK}+?\\\))"
    r"|(?P<math>(?<![\\$])\$(?![\s$])(?:[^$\n]|\n(?![ \t]*\n))*?(?<![\s\\])\$)",
    re.S,
)


@dataclass
class Protected:
    """Markdown with code, math and raw blocks swapped for placeholders that keep their line count."""

    text: str
    pieces: list[str] = field(default_factory=list)

    def restore(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.pieces[int(m[1])], text)


def has_liquid(text: str) -> bool:
    return "{{" in text or "{%" in text


def convert_highlight_tags(text: str) -> str:
    """`{% highlight py %}...{% endhighlight %}` -> a fenced code block with the same number of lines."""
    def fence(m: re.Match) -> str:
        code = m[2] if m[2].endswith("\n") else m[2] + "\n"
        return f"```{m[1]}\n{code}```"
    return _HIGHLIGHT.sub(fence, text)


def protect(text: str) -> Protected:
    """Cut out fenced code, inline code, math and {% raw %} regions so templating never sees them."""
    result = Protected("")
    out: list[str] = []

    def stash(piece: str) -> str:
        result.pieces.append(piece)
        return f"\x02{len(result.pieces) - 1}{chr(10) * piece.count(chr(10))}\x03"

    def inline(segment: str) -> str:
        def one(m: re.Match) -> str:
            if m["raw"] is not None:
                return stash(m["rawbody"])
            if m["comment"] is not None:
                return "\n" * m[0].count("\n")
            return stash(_RAW_TAG.sub("", m[0]))
        return _INLINE.sub(one, segment)

    lines = text.splitlines(keepends=True)
    plain: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            plain.append(lines[i])
            i += 1
            continue
        out.append(inline("".join(plain)))
        plain = []
        marker = m[2]
        j = i + 1
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if close and close[2][0] == marker[0] and len(close[2]) >= len(marker) and not lines[j].strip(" \t\n`~"):
                break
            j += 1
        block = "".join(lines[i:j + 1])
        trailing = "\n" if block.endswith("\n") else ""
        out.append(stash(_RAW_TAG.sub("", block[: len(block) - len(trailing)])) + trailing)
        i = j + 1
    out.append(inline("".join(plain)))
    result.text = "".join(out)
    return result


class LiquidError(ValueError):
    """A Liquid problem at a line of the Markdown file."""

    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(message)


def is_placeholder(url: str) -> bool:
    """True for an include's placeholder where a URL was expected; it is replaced after Markdown."""
    return url.startswith("\x02")


_INCLUDE_PARAGRAPH = re.compile(r"<p>\x02I(\d+)\x03</p>\n?")


def insert_includes(html: str, includes: list[str]) -> str:
    """Put rendered includes where their placeholders are; a placeholder alone in a paragraph replaces it."""
    html = _INCLUDE_PARAGRAPH.sub(lambda m: includes[int(m[1])], html)
    return INCLUDE_TOKEN_RE.sub(lambda m: includes[int(m[1])], html)


# -- the engine ------------------------------------------------------------------------------------------

@dataclass
class Hooks:
    """What Jekyll's tags need from the site: a Jinja2 include, and page URLs by name."""

    include: Callable[[str, dict[str, Any], dict[str, Any]], str]  # (name, params, variables) -> HTML
    post_url: Callable[[str], str]  # Jekyll post file name (2024-05-01-slug) -> URL
    link: Callable[[str], str]  # source path (content/x.md) -> URL


@dataclass
class _Render:
    """Per-render state, reached by the tags through a global that no Liquid name can spell."""

    hooks: Hooks
    variables: dict[str, Any]
    includes: list[str] = field(default_factory=list)


_STATE = object()


class _Undefined(liquid.FalsyStrictUndefined):
    """False in `if`, replaced by `default`, an error wherever it would be printed or used."""

    force_liquid_default = True


class _Environment(liquid.Environment):
    # Content must not be able to hang or flood the build.
    loop_iteration_limit = 1_000_000
    output_stream_limit = 20_000_000


def _raw_expression(stream: TokenStream, example: str) -> tuple[Token, Token]:
    """The tag token and its expression as written (`{% post_url 2024-05-01-x %}` -> "2024-05-01-x")."""
    tag = stream.current
    stream.expect(TOKEN_TAG)
    if stream.peek.kind != TOKEN_EXPRESSION:
        raise LiquidSyntaxError(f"'{tag.value}' needs an argument: {example}", token=tag)
    next(stream)
    return tag, stream.current


class _IncludeNode(Node):
    __slots__ = ("name", "args")

    def __init__(self, token: Token, name: str, args: list[tuple[Token, Any]]):
        super().__init__(token)
        self.name, self.args = name, args
        self.blank = False

    def render_to_output(self, context: liquid.RenderContext, buffer: TextIO) -> int:
        state: _Render = context.globals[_STATE]
        params = {}
        for token, expression in self.args:
            value = expression.evaluate(context)
            if liquid.is_undefined(value):
                raise UndefinedError(f"include parameter '{token.value}': {value.msg}", token=token)
            params[token.value] = value
        try:
            html = state.hooks.include(self.name, params, {**state.variables, **dict(context.locals)})
        except LookupError as exc:
            raise LiquidTypeError(str(exc.args[0] if exc.args else exc), token=self.token) from None
        state.includes.append(html)
        return buffer.write(INCLUDE_TOKEN.format(len(state.includes) - 1))


class _IncludeTag(Tag):
    """Jekyll's include: `{% include name.html key="value" key2=variable %}` (a file, not an expression)."""

    name = "include"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        tag, expr = _raw_expression(stream, '{% include name.html key="value" %}')
        m = re.match(r"\s*([\w./-]+\.\w+)(?=\s|$)", expr.value)
        if not m:
            raise LiquidSyntaxError(f"cannot read '{{% include {expr.value.strip()} %}}': expected "
                                    '{% include name.html key="value" %}', token=expr)
        rest = Token(TOKEN_EXPRESSION, expr.value[m.end():], expr.start_index + m.end(), expr.source)
        tokens = TokenStream(tokenize(rest.value, parent_token=rest))
        args = []
        while tokens.current.kind != TOKEN_EOF:
            name = tokens.eat(TOKEN_WORD)
            tokens.eat_one_of(TOKEN_ASSIGN, TOKEN_COLON)
            args.append((name, parse_primitive(self.env, tokens)))
            if tokens.current.kind == TOKEN_COMMA:
                next(tokens)
        return _IncludeNode(tag, m[1], args)


class _UrlNode(Node):
    __slots__ = ("kind", "name")

    def __init__(self, token: Token, kind: str, name: str):
        super().__init__(token)
        self.kind, self.name = kind, name
        self.blank = False

    def render_to_output(self, context: liquid.RenderContext, buffer: TextIO) -> int:
        hooks = context.globals[_STATE].hooks
        try:
            url = hooks.post_url(self.name) if self.kind == "post_url" else hooks.link(self.name)
        except LookupError as exc:
            raise LiquidTypeError(str(exc.args[0] if exc.args else exc), token=self.token) from None
        return buffer.write(url)


def _url_tag(tag_name: str, example: str) -> type[Tag]:
    class UrlTag(Tag):
        name = tag_name
        block = False

        def parse(self, stream: TokenStream) -> Node:
            tag, expr = _raw_expression(stream, example)
            return _UrlNode(tag, tag_name, expr.value.strip())
    return UrlTag


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A Jekyll filter whose failures become Liquid errors at the filter's line."""
    def call(value: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(value, *args, **kwargs)
        except EngineError:
            raise
        except Exception as exc:
            raise FilterArgumentError(f"{name}: {exc}", token=None) from None
    return call


def make_environment(filters: dict[str, Callable[..., Any]]) -> liquid.Environment:
    """A strict Liquid environment with Jekyll's tags and the site's filters (those Liquid lacks, and a
    `date` that refuses "now", which would make builds differ from day to day)."""
    env = _Environment(tolerance=Mode.STRICT, undefined=_Undefined, strict_filters=True, autoescape=False)
    del env.tags["render"]  # Liquid's own partials read from a loader we do not have: use include
    env.add_tag(_IncludeTag)
    env.add_tag(_url_tag("post_url", "{% post_url 2024-05-01-slug %}"))
    env.add_tag(_url_tag("link", "{% link content/about.md %}"))
    for name, func in filters.items():
        if name == "date" or name not in env.filters:
            env.add_filter(name, _guarded(name, func))
    return env


@dataclass
class LiquidResult:
    text: str  # Markdown with include placeholders
    includes: list[str]  # HTML to put in place of INCLUDE_TOKEN(i) after Markdown rendering


def _line(exc: EngineError, text: str, first_line: int) -> int:
    token = exc.token
    index = token.start_index if token is not None and token.start_index >= 0 else len(text)
    return first_line + text.count("\n", 0, index)


def render(body: str, first_line: int, env: liquid.Environment, variables: dict[str, Any],
           hooks: Hooks) -> LiquidResult:
    """Run the Liquid pass over a Markdown body; math and code come back exactly as written."""
    body = convert_highlight_tags(body) if "highlight" in body else body
    if not has_liquid(body):
        return LiquidResult(body, [])
    protected = protect(body)
    if not has_liquid(protected.text):
        return LiquidResult(protected.restore(protected.text), [])
    state = _Render(hooks, variables)
    try:
        text = env.from_string(protected.text).render({**variables, _STATE: state})
    except LiquidSyntaxError as exc:
        raise LiquidError(_line(exc, protected.text, first_line), f"Liquid syntax error: {exc.message}") from None
    except EngineError as exc:
        raise LiquidError(_line(exc, protected.text, first_line), str(exc.message)) from None
    return LiquidResult(protected.restore(text), state.includes)
