"""The Go-template subset renders ghz call data the way ghz (text/template + sprig) would."""

import json
import re

import pytest

from benchmarks import calltemplate
from benchmarks.calltemplate import TemplateError

DATA = {"RequestNumber": 41, "WorkerID": "g3c1", "UUID": "u-1", "IsServerStreaming": False}
FUNCTIONS = calltemplate.functions({"FAREBOX_TOKEN": "secret"})


def render(source: str) -> str:
    return calltemplate.parse(source).render(DATA, FUNCTIONS)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain text", "plain text"),
        ("{{.RequestNumber}}", "41"),
        ("n={{ .RequestNumber }}, w={{.WorkerID}}", "n=41, w=g3c1"),
        ("{{.IsServerStreaming}}", "false"),
        ("{{mod .RequestNumber 40}}", "1"),
        ("{{add1 (div (mod .RequestNumber 40) 4)}}", "1"),
        ("{{index (list `A` `B` `C` `D`) (mod .RequestNumber 4)}}", "B"),
        ('{{index (list "A" "B") 1}}', "B"),
        ("{{.RequestNumber | add 1}}", "42"),
        ("{{.RequestNumber | mod 100}}", "18"),
        ("{{add 1 2 3}}|{{sub 10 4}}|{{mul 2 3 4}}|{{max 3 9 2}}|{{min 3 9 2}}", "6|6|24|9|2"),
        ("{{div -7 2}} {{mod -7 2}}", "-3 -1"),
        ("Bearer {{env `FAREBOX_TOKEN`}}", "Bearer secret"),
        ("[{{env `MISSING`}}]", "[]"),
        ("{{env `MISSING` | default `demo-ams-dus`}}", "demo-ams-dus"),
        ("{{env `FAREBOX_TOKEN` | default `fallback`}}", "secret"),
        ('{{printf "%03d-%s" .RequestNumber .WorkerID}}', "041-g3c1"),
        ("{{upper `ab`}}{{lower `CD`}}", "ABcd"),
        ("{{join `,` (list 1 2 3)}}", "1,2,3"),
        ("a {{- ` b ` -}} c", "a b c"),
        ("x{{/* a comment */}}y", "xy"),
        ("{{len (list 1 2 3)}}", "3"),
    ],
)
def test_renders_like_go_templates(source: str, expected: str) -> None:
    assert render(source) == expected


def test_random_functions_respect_their_bounds() -> None:
    values = {int(render("{{randomInt 5 8}}")) for _ in range(200)}
    assert values <= {5, 6, 7}
    assert len(render("{{randomString 12}}")) == 12
    assert 2 <= len(render("{{randomString 0}}")) <= 16
    assert re.fullmatch(r"[0-9a-f-]{36}", render("{{newUUID}}"))
    assert render("{{newUUID}}") != render("{{newUUID}}")


def test_a_template_without_actions_is_constant() -> None:
    assert calltemplate.parse('{"payload": "x"}').is_constant
    assert not calltemplate.parse('{"n": "{{.RequestNumber}}"}').is_constant


def test_json_data_with_templates_stays_valid_json() -> None:
    source = json.dumps({"seat": "{{add1 (mod .RequestNumber 4)}}{{index (list `A` `B`) 0}}", "n": 3})
    assert json.loads(render(source)) == {"seat": "2A", "n": 3}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{nosuch 1}}", 'function "nosuch" not defined'),
        ("{{if .RequestNumber}}x{{end}}", "not supported"),
        ("{{.RequestNumber", "unclosed action"),
        ("{{.Missing}}", "can't evaluate field Missing"),
        ("{{ }}", "empty action"),
        ("{{.RequestNumber 3}}", "can't give argument to non-function"),
        ("{{add 1 (mod 2 3}}", "unclosed '('"),
        ("{{div 1 0}}", "error calling div"),
    ],
)
def test_bad_templates_fail_with_a_reason(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        render(source)
