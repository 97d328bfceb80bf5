"""Path templates of `google.api.HttpRule`, parsed once at start-up and matched per request.

The grammar is google/api/http.proto's::

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

Matching mirrors grpc-gateway's runtime/pattern.go and the path split of runtime/mux.go: the raw
path is split on "/", a final ":verb" is cut from the last segment (a segment that starts with ":"
matches nothing), `*` takes one segment, `**` any number (fixed segments may follow it), and the
verb must equal the template's. Captured values are percent-decoded, except that a multi-segment
capture keeps "%2F" encoded, as http.proto asks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LITERAL = re.compile(r"[^/{}*=:]+\Z")
_ENCODED_SLASH = re.compile("%2F", re.IGNORECASE)


class TemplateError(ValueError):
    """A path template does not follow the http.proto grammar."""


class SegmentKind(Enum):
    """What one template segment matches."""

    LITERAL = "literal"
    WILDCARD = "*"
    DEEP_WILDCARD = "**"


@dataclass(frozen=True)
class Segment:
    """One template segment: a literal, `*` or `**`."""

    kind: SegmentKind
    literal: str = ""


@dataclass(frozen=True)
class Variable:
    """A captured field path and the segments [start, end) it spans."""

    field_path: str
    start: int
    end: int


@dataclass(frozen=True)
class PathTemplate:
    """A parsed template; `match` returns the captured field values or None."""

    template: str
    segments: tuple[Segment, ...]
    variables: tuple[Variable, ...]
    verb: str

    @property
    def field_paths(self) -> tuple[str, ...]:
        """The field paths the template binds, in order."""
        return tuple(variable.field_path for variable in self.variables)

    @property
    def literal_count(self) -> int:
        """How many literal segments the template has; more literals match more specifically."""
        return sum(segment.kind is SegmentKind.LITERAL for segment in self.segments)

    @property
    def has_deep_wildcard(self) -> bool:
        """Whether a `**` segment is present."""
        return any(segment.kind is SegmentKind.DEEP_WILDCARD for segment in self.segments)

    def openapi_path(self) -> str:
        """The template as an OpenAPI path: each variable becomes `{field.path}`."""
        parts: list[str] = []
        index = 0
        by_start = {variable.start: variable for variable in self.variables}
        while index < len(self.segments):
            variable = by_start.get(index)
            if variable is not None:
                parts.append("{" + variable.field_path + "}")
                index = variable.end
                continue
            segment = self.segments[index]
            parts.append(segment.literal if segment.kind is SegmentKind.LITERAL else segment.kind.value)
            index += 1
        path = "/" + "/".join(parts)
        return f"{path}:{self.verb}" if self.verb else path

    def match(self, components: Sequence[str], verb: str) -> dict[str, str] | None:
        """The values of the template's variables for raw path `components`, or None."""
        if verb != self.verb:
            return None
        spans = self._spans(components)
        if spans is None:
            return None
        for segment, (first, _) in zip(self.segments, spans, strict=True):
            if segment.kind is SegmentKind.LITERAL and unquote(components[first]) != segment.literal:
                return None
        values: dict[str, str] = {}
        for variable in self.variables:
            raw = components[spans[variable.start][0] : spans[variable.end - 1][1]]
            covered = self.segments[variable.start : variable.end]
            if len(covered) == 1 and covered[0].kind is not SegmentKind.DEEP_WILDCARD:
                values[variable.field_path] = unquote(raw[0])
            else:
                values[variable.field_path] = "/".join(_unquote_keeping_slash(part) for part in raw)
        return values

    def _spans(self, components: Sequence[str]) -> list[tuple[int, int]] | None:
        """The [first, last) components each segment covers, or None when the counts cannot fit."""
        deep = [i for i, segment in enumerate(self.segments) if segment.kind is SegmentKind.DEEP_WILDCARD]
        if not deep:
            if len(components) != len(self.segments):
                return None
            return [(i, i + 1) for i in range(len(components))]
        head = deep[0]
        tail = len(self.segments) - head - 1
        if len(components) < head + tail:
            return None
        middle_end = len(components) - tail
        spans = [(i, i + 1) for i in range(head)]
        spans.append((head, middle_end))
        spans.extend((middle_end + i, middle_end + i + 1) for i in range(tail))
        return spans


def split_path(raw_path: str) -> tuple[list[str], str] | None:
    """Raw path components and the verb, as mux.go splits them; None for a path nothing can match."""
    if not raw_path.startswith("/"):
        return None
    if raw_path == "/":
        return [], ""
    components = raw_path[1:].split("/")
    last = components[-1]
    colon = last.rfind(":")
    if colon == 0:
        return None
    if colon > 0:
        components[-1], verb = last[:colon], last[colon + 1 :]
        return components, verb
    return components, ""


def parse_template(template: str) -> PathTemplate:
    """Parses an http.proto path template, raising TemplateError on anything outside the grammar."""
    if not template.startswith("/"):
        raise TemplateError(f"template {template!r} must start with '/'")
    body, verb = _split_verb(template)
    if body == "/":
        return PathTemplate(template=template, segments=(), variables=(), verb=verb)
    parser = _Parser(template, body[1:])
    segments, variables = parser.parse()
    if sum(segment.kind is SegmentKind.DEEP_WILDCARD for segment in segments) > 1:
        raise TemplateError(f"template {template!r} has more than one '**'")
    names = [variable.field_path for variable in variables]
    if len(names) != len(set(names)):
        raise TemplateError(f"template {template!r} binds a field twice")
    return PathTemplate(template=template, segments=tuple(segments), variables=tuple(variables), verb=verb)


def _split_verb(template: str) -> tuple[str, str]:
    tail_start = max(template.rfind("/"), template.rfind("}"))
    colon = template.find(":", tail_start + 1)
    if colon < 0:
        return template, ""
    verb = template[colon + 1 :]
    if not _LITERAL.match(verb):
        raise TemplateError(f"template {template!r} has an invalid verb {verb!r}")
    return template[:colon], verb


def _unquote_keeping_slash(part: str) -> str:
    pieces = _ENCODED_SLASH.split(part)
    separators = _ENCODED_SLASH.findall(part)
    out = unquote(pieces[0])
    for separator, piece in zip(separators, pieces[1:], strict=True):
        out += separator + unquote(piece)
    return out


class _Parser:
    """A recursive-descent parser over the template after its leading '/'."""

    def __init__(self, template: str, text: str) -> None:
        self.template = template
        self.text = text
        self.pos = 0
        self.segments: list[Segment] = []
        self.variables: list[Variable] = []

    def parse(self) -> tuple[list[Segment], list[Variable]]:
        self._segments(inside_variable=False)
        if self.pos != len(self.text):
            self._fail(f"unexpected {self.text[self.pos]!r}")
        return self.segments, self.variables

    def _fail(self, problem: str) -> None:
        raise TemplateError(f"template {self.template!r}: {problem} at offset {self.pos + 1}")

    def _segments(self, inside_variable: bool) -> None:
        while True:
            self._segment(inside_variable)
            if self.pos < len(self.text) and self.text[self.pos] == "/":
                self.pos += 1
                continue
            return

    def _segment(self, inside_variable: bool) -> None:
        rest = self.text[self.pos :]
        if rest.startswith("**"):
            self.segments.append(Segment(SegmentKind.DEEP_WILDCARD))
            self.pos += 2
        elif rest.startswith("*"):
            self.segments.append(Segment(SegmentKind.WILDCARD))
            self.pos += 1
        elif rest.startswith("{"):
            if inside_variable:
                self._fail("variables cannot nest")
            self._variable()
        else:
            end = self.pos
            while end < len(self.text) and self.text[end] not in "/}":
                end += 1
            literal = self.text[self.pos : end]
            if not _LITERAL.match(literal):
                self._fail(f"invalid segment {literal!r}")
            self.segments.append(Segment(SegmentKind.LITERAL, literal))
            self.pos = end

    def _variable(self) -> None:
        self.pos += 1
        end = self.pos
        while end < len(self.text) and self.text[end] not in "=}":
            end += 1
        field_path = self.text[self.pos : end]
        if not all(_IDENT.match(part) for part in field_path.split(".")):
            self._fail(f"invalid field path {field_path!r}")
        self.pos = end
        start = len(self.segments)
        if self.pos < len(self.text) and self.text[self.pos] == "=":
            self.pos += 1
            self._segments(inside_variable=True)
        else:
            self.segments.append(Segment(SegmentKind.WILDCARD))
        if self.pos >= len(self.text) or self.text[self.pos] != "}":
            self._fail("unclosed variable")
        self.pos += 1
        self.variables.append(Variable(field_path=field_path, start=start, end=len(self.segments)))
