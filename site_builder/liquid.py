"""Jekyll-style Liquid in Markdown, by a small, tested translation to Jinja2 (not a Liquid engine).

Why a translation: layouts and includes are Jinja2 templates, and `{% include stylizer.html %}` must be
able to use template helpers such as `asset_url(...)`. One engine means one set of variables and filters.

Supported (everything else is an error naming the file and line):
  {{ expr }}, {{ expr | filter: arg, arg }}  filters: prepend, append, relative_url, absolute_url, date,
      date_to_xmlschema, date_to_string, xml_escape, cgi_escape, url_encode, slugify, strip_html,
      number_of_words, jsonify, downcase, upcase, capitalize, size, default, escape, strip
  {% include name.html key="value" %}   rendered from templates/, output inserted as raw HTML
  {% if %} {% elsif %} {% else %} {% endif %}, {% unless %}, {% for x in list %}, {% assign %},
  {% capture %}, {% comment %}, {% raw %}, {% highlight lang %} (becomes a fenced code block),
  {% post_url 2024-05-01-slug %}, {% link content/path.md %}
Code (fenced and inline) and math are cut out before this pass and put back after it, untouched.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import jinja2

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
_OUTPUT = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
_TAG = re.compile(r"\{%(-?)\s*(\w+)(.*?)(-?)%\}", re.S)
_FILTER_CALL = re.compile(r"^\s*(\w+)\s*(?::\s*(.*))?$", re.S)


class LiquidError(ValueError):
    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(message)


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


def _split_pipes(expr: str) -> list[str]:
    parts, current, quote = [], [], ""
    for ch in expr:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


_WORDS = re.compile(r"""("[^"]*"|'[^']*')|\bnil\b|\bempty\b""")
_CONTAINS = re.compile(r"""([\w.\[\]"']+)\s+contains\s+([\w.\[\]"']+)""")


def _expression(expr: str) -> str:
    """Liquid expression -> Jinja expression (nil, contains); strings are left alone."""
    expr = _WORDS.sub(lambda m: m[1] if m[1] else ("none" if m[0] == "nil" else "[]"), expr)
    return _CONTAINS.sub(lambda m: f"({m[2]} in {m[1]})", expr)


def _output(expr: str, line: int) -> str:
    """`x | prepend: site.baseurl | f` -> `x | prepend(site.baseurl) | f`."""
    parts = _split_pipes(expr)
    result = [_expression(parts[0]).strip()]
    for part in parts[1:]:
        m = _FILTER_CALL.match(part)
        if not m:
            raise LiquidError(line, f"cannot read Liquid filter '{part.strip()}'")
        name, args = m[1], m[2]
        result.append(f"{name}({_expression(args).strip()})" if args is not None else name)
    return " | ".join(result)


_INCLUDE_ARGS = re.compile(r"""^\s*([\w./-]+\.\w+)((?:\s+\w+\s*=\s*(?:"[^"]*"|'[^']*'|[\w.\[\]]+))*)\s*$""")
_KWARG = re.compile(r"""(\w+)\s*=\s*("[^"]*"|'[^']*'|[\w.\[\]]+)""")


def translate(text: str, first_line: int) -> str:
    """Rewrite Liquid tags and outputs into Jinja2 syntax; unsupported tags raise LiquidError with a line."""
    def line_of(pos: int) -> int:
        return first_line + text.count("\n", 0, pos)

    def output(m: re.Match) -> str:
        return "{{" + m[1] + " " + _output(m[2], line_of(m.start())) + " " + m[3] + "}}"

    def tag(m: re.Match) -> str:
        lstrip, name, rest, rstrip = m[1], m[2], m[3].strip(), m[4]
        line = line_of(m.start())

        def jinja(body: str) -> str:
            return "{%" + lstrip + " " + body + " " + rstrip + "%}"

        if name == "include":
            args = _INCLUDE_ARGS.match(rest)
            if not args:
                raise LiquidError(line, f"cannot read '{{% include {rest} %}}': expected "
                                        "{% include name.html key=\"value\" %}")
            kwargs = "".join(f", {k}={_expression(v)}" for k, v in _KWARG.findall(args[2]))
            return "{{" + lstrip + f" _include({args[1]!r}{kwargs}) " + rstrip + "}}"
        if name in ("if", "elsif"):
            return jinja(("if " if name == "if" else "elif ") + _expression(rest))
        if name == "unless":
            return jinja(f"if not ({_expression(rest)})")
        if name in ("endif", "endunless"):
            return jinja("endif")
        if name in ("else", "endfor", "endcapture"):
            return jinja({"endcapture": "endset"}.get(name, name))
        if name == "for":
            if re.search(r"\b(limit|offset|reversed)\b", rest):
                raise LiquidError(line, "Liquid for-loop options (limit, offset, reversed) are not supported")
            return jinja("for " + _expression(rest))
        if name == "assign":
            target, _, value = rest.partition("=")
            if not value:
                raise LiquidError(line, f"cannot read '{{% assign {rest} %}}'")
            return jinja(f"set {target.strip()} = {_output(value, line)}")
        if name == "capture":
            return jinja(f"set {rest}")
        if name == "post_url":
            return "{{" + lstrip + f" _post_url({rest!r}) " + rstrip + "}}"
        if name == "link":
            return "{{" + lstrip + f" _link({rest!r}) " + rstrip + "}}"
        raise LiquidError(line, f"unsupported Liquid tag '{{% {name} %}}'")

    return _TAG.sub(tag, _OUTPUT.sub(output, text))


def template_line(exc: BaseException, filename: str) -> int | None:
    """The template line Jinja was executing when `exc` was raised (Jinja rewrites tracebacks for this)."""
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass
class LiquidResult:
    text: str  # Markdown with include placeholders
    includes: list[str]  # HTML to put in place of INCLUDE_TOKEN(i) after Markdown rendering


def render(body: str, first_line: int, env: jinja2.Environment, context: dict[str, Any],
           include: Callable[[str, dict[str, Any], dict[str, Any]], str]) -> LiquidResult:
    """Run the Liquid pass over a Markdown body; math and code come back exactly as written.

    `include(name, params, context)` renders a template from templates/ and returns its HTML.
    """
    body = convert_highlight_tags(body) if "highlight" in body else body
    if not has_liquid(body):
        return LiquidResult(body, [])
    protected = protect(body)
    if not has_liquid(protected.text):
        return LiquidResult(protected.restore(protected.text), [])
    source = translate(protected.text, first_line)
    includes: list[str] = []

    @jinja2.pass_context
    def _include(ctx: jinja2.runtime.Context, name: str, **params: Any) -> str:
        includes.append(include(name, params, dict(ctx.get_all())))
        return INCLUDE_TOKEN.format(len(includes) - 1)

    filename = "<markdown>"
    try:
        code = env.compile(source, filename=filename)
        template = env.template_class.from_code(env, code, env.make_globals({"_include": _include}), None)
    except jinja2.TemplateSyntaxError as exc:
        raise LiquidError(first_line + (exc.lineno or 1) - 1, f"template syntax: {exc.message}") from None
    try:
        text = template.render(context)
    except LiquidError:
        raise
    except Exception as exc:  # undefined variables, failed includes, bad filter arguments ...
        line = template_line(exc, filename) or 1
        message = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
        raise LiquidError(first_line + line - 1, message) from None
    return LiquidResult(protected.restore(text), includes)
