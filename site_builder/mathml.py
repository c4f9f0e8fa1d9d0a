"""TeX math -> MathML at build time (latex2mathml), so readers need no JavaScript to read equations.

latex2mathml is lenient: it turns an unknown command into literal text and ignores a missing brace. A
published equation that silently shows `\\foo` is a bug, so its output is checked here and any such
problem becomes an error the author sees with file and line.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import lru_cache

from latex2mathml.converter import convert

# Children each MathML layout element must have; fewer means a TeX argument was missing.
_ARITY = {"mfrac": 2, "msub": 2, "msup": 2, "msubsup": 3, "munder": 2, "mover": 2, "munderover": 3, "mroot": 2}
_NS = "{http://www.w3.org/1998/Math/MathML}"
_UNKNOWN_COMMAND = re.compile(r">\s*(\\[A-Za-z]+)\s*<")


class MathError(ValueError):
    """TeX that cannot be rendered faithfully; the message says why, in words."""


def _check_braces(tex: str) -> None:
    depth = 0
    i = 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            i += 2  # skip the escaped character (\{, \}, \\ ...)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise MathError("unbalanced braces: '}' without a matching '{'")
        i += 1
    if depth > 0:
        raise MathError("unbalanced braces: '{' is never closed")


def _words(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", class_name.removesuffix("Error")).lower()


_BAR = '<mo stretchy="true">&#x000AF;</mo>'
_MOVER_TAG = re.compile(r"<mover[^>]*>|</mover>")


def _accent_bars(mathml: str) -> str:
    """Mark the `<mover>` of \\bar/\\overline as an accent, so browsers set the bar tight over its base."""
    opens: list[int] = []
    accents: list[int] = []
    for m in _MOVER_TAG.finditer(mathml):
        if m[0] != "</mover>":
            opens.append(m.start())
        else:
            start = opens.pop()
            if mathml.endswith(_BAR, 0, m.start()) and mathml.startswith("<mover>", start):
                accents.append(start)
    for start in sorted(accents, reverse=True):
        mathml = mathml[:start] + '<mover accent="true">' + mathml[start + len("<mover>"):]
    return mathml


@lru_cache(maxsize=8192)
def tex_to_mathml(tex: str, display: bool = False) -> str:
    """Return a `<math>` element for `tex`; raise MathError if it would not render as written."""
    source = tex.strip()
    if not source:
        raise MathError("empty math")
    _check_braces(source)
    try:
        mathml = convert(source, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises many exception types; all mean "cannot render"
        detail = str(exc).strip()
        raise MathError(_words(type(exc).__name__) + (f": {detail}" if detail else "")) from None
    unknown = _UNKNOWN_COMMAND.search(mathml)
    if unknown:
        raise MathError(f"unknown command {unknown.group(1)}")
    for element in ET.fromstring(mathml).iter():
        name = element.tag.removeprefix(_NS)
        want = _ARITY.get(name)
        if want is not None and len(element) != want:
            raise MathError(f"incomplete expression: <{name}> needs {want} parts, got {len(element)} "
                            f"(a missing argument, e.g. \\frac{{a}} without its denominator?)")
    return _accent_bars(mathml)
