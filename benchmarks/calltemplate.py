"""The part of Go's text/template that ghz call data uses: actions, fields, functions, pipes.

ghz renders request data and metadata as Go templates on every call (www/docs/calldata.md in
bojand/ghz). Supported here: `{{.Field}}`, literals (numbers, "strings", `raw`, true/false),
function calls with arguments, parenthesised sub-pipelines, pipes (`{{.RequestNumber | mod 40}}`),
`{{- trim -}}` markers and `{{/* comments */}}`. Control actions (if, range, with, define) are not.

Functions: ghz's own (`newUUID`, `randomString`, `randomInt`), Go's builtins that make sense without
control flow (`index`, `len`, `print`, `printf`) and a sprig subset (`add`, `add1`, `sub`, `mul`,
`div`, `mod`, `max`, `min`, `list`, `join`, `upper`, `lower`, `trim`, `toString`, `atoi`, `int`,
`env`, `default`, `uuidv4`, `randInt`, `randAlphaNum`, `randNumeric`).
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ALPHANUMERIC = string.ascii_letters + string.digits
_CONTROL = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|(?P<pipe>\|)
        |(?P<string>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)
        |(?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
        |(?P<field>(?:\.[A-Za-z_]\w*)+)|(?P<dot>\.)
        |(?P<ident>[A-Za-z_]\w*)
    )""",
    re.VERBOSE,
)
_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "0": "\0"}


class TemplateError(ValueError):
    """A template that does not parse or cannot be evaluated."""


@dataclass(frozen=True)
class Literal:
    """A constant operand."""

    value: Any


@dataclass(frozen=True)
class Field:
    """`.A.B`: a lookup in the data, one key per name."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class Identifier:
    """A function name (or true/false/nil)."""

    name: str


@dataclass(frozen=True)
class Command:
    """One command of a pipeline: a function call or a single value."""

    operands: tuple[Operand, ...]


@dataclass(frozen=True)
class Pipeline:
    """Commands joined by `|`; each result is passed as the last argument of the next."""

    commands: tuple[Command, ...]


Operand = Literal | Field | Identifier | Pipeline
Node = str | Pipeline


@dataclass(frozen=True)
class Template:
    """A parsed template: text and actions, rendered with `render`."""

    source: str
    nodes: tuple[Node, ...]

    @property
    def is_constant(self) -> bool:
        """True when the template has no actions, so every rendering is the source itself."""
        return all(isinstance(node, str) for node in self.nodes)

    def render(self, data: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]) -> str:
        """The text with every action replaced by its printed value."""
        out: list[str] = []
        for node in self.nodes:
            out.append(node if isinstance(node, str) else go_print(_pipeline(node, data, functions)))
        return "".join(out)


def parse(source: str) -> Template:
    """Parses a template; raises TemplateError with the offending action."""
    nodes: list[Node] = []
    position = 0
    trim_next = False
    while True:
        start = source.find("{{", position)
        text = source[position:] if start < 0 else source[position:start]
        if trim_next:
            text = text.lstrip()
        if start < 0:
            if text:
                nodes.append(text)
            return Template(source, tuple(nodes))
        end = source.find("}}", start + 2)
        if end < 0:
            raise TemplateError(f"unclosed action at offset {start}: {source[start : start + 40]!r}")
        inner = source[start + 2 : end]
        if inner.startswith("- "):
            text, inner = text.rstrip(), inner[2:]
        trim_next = inner.endswith(" -")
        if trim_next:
            inner = inner[:-2]
        if text:
            nodes.append(text)
        if not inner.strip().startswith("/*"):
            nodes.append(_parse_action(inner))
        position = end + 2


def _parse_action(inner: str) -> Pipeline:
    tokens = _tokenize(inner)
    if not tokens:
        raise TemplateError(f"empty action {{{{{inner}}}}}")
    if tokens[0][0] == "ident" and tokens[0][1] in _CONTROL:
        raise TemplateError(f"control action {tokens[0][1]!r} is not supported: {{{{{inner}}}}}")
    pipeline, rest = _parse_pipeline(tokens, inner)
    if rest:
        raise TemplateError(f"unexpected {rest[0][1]!r} in {{{{{inner}}}}}")
    return pipeline


def _tokenize(inner: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(inner):
        if inner[position:].strip() == "":
            break
        match = _TOKEN.match(inner, position)
        if match is None or match.lastgroup is None:
            raise TemplateError(f"cannot parse {inner[position:]!r} in {{{{{inner}}}}}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def _parse_pipeline(tokens: list[tuple[str, str]], inner: str) -> tuple[Pipeline, list[tuple[str, str]]]:
    commands: list[Command] = []
    operands: list[Operand] = []
    while tokens:
        kind, text = tokens[0]
        if kind == "rparen":
            break
        tokens = tokens[1:]
        if kind == "pipe":
            if not operands:
                raise TemplateError(f"missing command before '|' in {{{{{inner}}}}}")
            commands.append(Command(tuple(operands)))
            operands = []
        elif kind == "lparen":
            sub, tokens = _parse_pipeline(tokens, inner)
            if not tokens or tokens[0][0] != "rparen":
                raise TemplateError(f"unclosed '(' in {{{{{inner}}}}}")
            tokens = tokens[1:]
            operands.append(sub)
        else:
            operands.append(_operand(kind, text))
    if not operands:
        raise TemplateError(f"missing command in {{{{{inner}}}}}")
    commands.append(Command(tuple(operands)))
    return Pipeline(tuple(commands)), tokens


def _operand(kind: str, text: str) -> Operand:
    if kind == "string":
        return Literal(_unquote(text[1:-1]))
    if kind == "raw":
        return Literal(text[1:-1])
    if kind == "number":
        is_float = any(c in text for c in ".eE")
        return Literal(float(text) if is_float else int(text))
    if kind == "field":
        return Field(tuple(text[1:].split(".")))
    if kind == "dot":
        return Field(())
    if text in ("true", "false"):
        return Literal(text == "true")
    if text == "nil":
        return Literal(None)
    return Identifier(text)


def _unquote(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")
        if escaped not in _GO_ESCAPES:
            raise TemplateError(f"unsupported escape \\{escaped} in string literal")
        out.append(_GO_ESCAPES[escaped])
    return "".join(out)


def _pipeline(
    pipeline: Pipeline, data: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
) -> Any:
    value: Any = None
    for position, command in enumerate(pipeline.commands):
        piped = (value,) if position > 0 else ()
        value = _command(command, data, functions, piped)
    return value


def _command(
    command: Command,
    data: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]],
    piped: tuple[Any, ...],
) -> Any:
    first, *rest = command.operands
    if isinstance(first, Identifier):
        function = functions.get(first.name)
        if function is None:
            raise TemplateError(f'function "{first.name}" not defined')
        args = [_operand_value(arg, data, functions) for arg in rest]
        try:
            return function(*args, *piped)
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as error:
            raise TemplateError(f"error calling {first.name}: {error}") from error
    if rest or piped:
        raise TemplateError("can't give argument to non-function")
    return _operand_value(first, data, functions)


def _operand_value(
    operand: Operand, data: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
) -> Any:
    if isinstance(operand, Literal):
        return operand.value
    if isinstance(operand, Pipeline):
        return _pipeline(operand, data, functions)
    if isinstance(operand, Identifier):
        return _command(Command((operand,)), data, functions, ())
    value: Any = data
    for name in operand.path:
        if not isinstance(value, Mapping) or name not in value:
            raise TemplateError(f"can't evaluate field {name}")
        value = value[name]
    return value


def go_print(value: Any) -> str:
    """A value printed the way Go's fmt prints it in a template."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_print(item) for item in value) + "]"
    return str(value)


def to_int(value: Any) -> int:
    """sprig's toInt64: numbers, numeric strings and booleans become integers."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value)) if value.strip() else 0
        except ValueError:
            return 0
    raise TypeError(f"cannot convert {value!r} to an integer")


def _random_string(length: Any) -> str:
    size = to_int(length)
    if size <= 0:
        size = random.randint(2, 16)
    return "".join(random.choices(_ALPHANUMERIC, k=size))


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        flags, verb = match.group(1), match.group(2)
        value = next(values, None)
        if verb == "v":
            return ("%" + flags + "s") % go_print(value)
        if verb == "q":
            return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if verb == "s":
            return ("%" + flags + "s") % go_print(value)
        return ("%" + flags + verb) % value

    return re.sub(r"%%|%([-+# 0]*\d*(?:\.\d+)?)([vdsfqxXoeEgG])", substitute, fmt)


def _go_div(a: Any, b: Any) -> int:
    numerator, denominator = to_int(a), to_int(b)
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def _go_mod(a: Any, b: Any) -> int:
    numerator, denominator = to_int(a), to_int(b)
    return numerator - denominator * _go_div(numerator, denominator)


def _index(collection: Any, *keys: Any) -> Any:
    value = collection
    for key in keys:
        value = value[key] if isinstance(value, Mapping) else value[to_int(key)]
    return value


def functions(environment: Mapping[str, str]) -> dict[str, Callable[..., Any]]:
    """The template functions; `env` reads from `environment`, captured once by the caller."""
    return {
        "newUUID": lambda: str(uuid.uuid4()),
        "uuidv4": lambda: str(uuid.uuid4()),
        "randomString": _random_string,
        "randomInt": lambda low, high: random.randrange(to_int(low), to_int(high)),
        "randInt": lambda low, high: random.randrange(to_int(low), to_int(high)),
        "randAlphaNum": lambda n: "".join(random.choices(_ALPHANUMERIC, k=to_int(n))),
        "randNumeric": lambda n: "".join(random.choices(string.digits, k=to_int(n))),
        "add": lambda *xs: sum(to_int(x) for x in xs),
        "add1": lambda x: to_int(x) + 1,
        "sub": lambda a, b: to_int(a) - to_int(b),
        "mul": lambda *xs: _product(xs),
        "div": _go_div,
        "mod": _go_mod,
        "max": lambda *xs: max(to_int(x) for x in xs),
        "min": lambda *xs: min(to_int(x) for x in xs),
        "list": lambda *xs: list(xs),
        "join": lambda sep, items: str(sep).join(go_print(item) for item in items),
        "upper": lambda s: str(s).upper(),
        "lower": lambda s: str(s).lower(),
        "trim": lambda s: str(s).strip(),
        "toString": go_print,
        "atoi": to_int,
        "int": to_int,
        "env": lambda name: environment.get(str(name), ""),
        "default": lambda fallback, *given: (
            given[0] if given and given[0] not in (None, "", 0, False) else fallback
        ),
        "index": _index,
        "len": len,
        "print": lambda *xs: "".join(go_print(x) for x in xs),
        "printf": _printf,
    }


def _product(values: Sequence[Any]) -> int:
    result = 1
    for value in values:
        result *= to_int(value)
    return result
