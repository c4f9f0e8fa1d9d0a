"""YAML loading that remembers where things are, so config and front-matter errors can name a line.

Values are loaded with the fast C loader; line numbers are worked out only when an error needs one. Values
YAML accepts but no page can use are refused at their line: an impossible date (`2026-13-45`, an offset of
99 hours, a time that leaves the calendar once converted to UTC), and control characters written as
escapes (`"\\x01"`), which HTML and the XML feed cannot carry.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from .errors import SourceError
from .sources import control_character_problem


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader, with the checks below."""


class _ValueProblem(ConstructorError):
    """A value that parsed as YAML but cannot be used; its message is shown as it is."""


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> dt.date:
    try:
        value = SafeConstructor.construct_yaml_timestamp(loader, node)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError) as exc:
        reason = "its time zone offset must be under 24 hours" if "offset" in str(exc) else str(exc)
        raise _ValueProblem(None, None, f"'{node.value}' is not a date that exists ({reason}); write a real "
                                        "date, or quote it to keep it as text", node.start_mark) from None
    return value


def _string(loader: _Loader, node: yaml.ScalarNode) -> str:
    value = SafeConstructor.construct_yaml_str(loader, node)
    problem = control_character_problem(value)
    if problem is not None:
        raise _ValueProblem(None, None, problem[1], node.start_mark)
    return value


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_Loader.add_constructor("tag:yaml.org,2002:str", _string)


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
        if isinstance(exc, _ValueProblem):
            raise YamlError(SourceError(path, line, problem)) from None
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
