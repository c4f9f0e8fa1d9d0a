"""YAML loading that remembers where things are, so config and front-matter errors can name a line.

Values are loaded with the fast C loader; line numbers are worked out only when an error needs one.
"""
from __future__ import annotations

from typing import Any

import yaml

from .errors import SourceError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, path: str, first_line: int = 1) -> Any:
    """Parse YAML; a syntax error becomes a SourceError at the offending line of `path`.

    `first_line` is the file line on which `text` starts (front matter starts after its `---`).
    """
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        context_mark = getattr(exc, "context_mark", None)
        if mark is not None and context_mark is not None and mark.line >= text.count("\n"):
            mark = context_mark  # the problem is "end of file": the line that opened the construct helps more
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        detail = f"{context}, {problem}" if context else problem
        raise YamlError(SourceError(path, line, f"invalid YAML: {detail}")) from None


class YamlError(Exception):
    """A YAML syntax error already located in the source file."""

    def __init__(self, error: SourceError):
        self.error = error
        super().__init__(str(error))


def key_line(text: str, keys: tuple[Any, ...], first_line: int = 1) -> int | None:
    """Line of the value at `keys` (mapping keys and list indexes), or of the deepest parent found."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    line = first_line + node.start_mark.line if node is not None else None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == key:
                    line = first_line + key_node.start_mark.line
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = first_line + node.start_mark.line
        else:
            return line
    return line
