"""ghz options: config files and command lines become the same RunOptions, with ghz's precedence."""

import json
from pathlib import Path

import pytest

from benchmarks.cli import options_from_args
from benchmarks.options import OptionsError, RunOptions, from_config, parse_go_duration, resolve_files


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("250ms", 0.25), ("1m30s", 90.0), ("1h", 3600.0), ("0", 0.0), ("1.5s", 1.5), (3, 3.0)],
)
def test_go_durations(text: str | int, seconds: float) -> None:
    assert parse_go_duration(text, "timeout") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "ten", "1s2", "-1s", "s"])
def test_bad_durations_name_the_key(text: str) -> None:
    with pytest.raises(OptionsError, match="timeout"):
        parse_go_duration(text, "timeout")


def test_config_keys_become_options() -> None:
    options = from_config(
        {
            "call": "a.B.C",
            "host": "h:1",
            "total": 10,
            "concurrency": 5,
            "rps": 100,
            "duration": "2s",
            "timeout": "250ms",
            "insecure": True,
            "metadata": {"authorization": "Bearer x"},
            "data": [{"a": 1}, {"a": 2}],
            "skipFirst": 3,
            "load-schedule": "STEP",
            "load-start": 10,
            "load-step-duration": "1s",
        }
    )
    assert (options.total, options.concurrency, options.rps, options.duration) == (10, 5, 100, 2.0)
    assert options.timeout == 0.25 and options.insecure and options.skip_first == 3
    assert options.load_schedule == "step" and options.load_step_duration == 1.0
    assert options.metadata == {"authorization": "Bearer x"} and options.data == [{"a": 1}, {"a": 2}]
    assert options.validate() is options


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"totl": 5}, "unknown ghz config key 'totl'"),
        ({"total": "5"}, "total: expected a non-negative integer"),
        ({"insecure": "yes"}, "insecure: expected true or false"),
        ({"metadata": {"a": 1}}, "metadata: expected an object of strings"),
        ({"data": []}, "data: expected an object or a non-empty array"),
        ({"data": [1]}, "every element of the data array must be an object"),
    ],
)
def test_bad_config_values_are_refused(config: dict[str, object], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        from_config(config)


def test_options_the_driver_cannot_honour_are_refused_not_ignored() -> None:
    options = from_config(
        {"call": "a.B.C", "host": "h:1", "proto": "x.proto", "async": True, "skipTLS": False}
    )
    with pytest.raises(OptionsError, match=r"proto .*async"):
        options.validate()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"call": ""}, "call"),
        ({"host": ""}, "host"),
        ({"connections": 9}, "connections cannot exceed concurrency"),
        ({"load_schedule": "step", "load_start": 0}, "load-start"),
        ({"cert": "c.pem"}, "cert and key go together"),
        ({"format": "html"}, "format"),
    ],
)
def test_runs_that_cannot_start_are_refused(changes: dict[str, object], message: str) -> None:
    base = RunOptions(call="a.B.C", host="h:1", concurrency=5)
    with pytest.raises(OptionsError, match=message):
        base.with_overrides(**changes).validate()


def test_command_line_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"call": "a.B.C", "host": "h:1", "total": 10, "concurrency": 5, "rps": 50}))
    options = options_from_args(
        ["--config", str(config), "-n", "99", "-m", '{"k": "v"}', "--insecure", "other:2"]
    )
    assert (options.total, options.concurrency, options.rps) == (99, 5, 50)
    assert options.host == "other:2" and options.metadata == {"k": "v"} and options.insecure


def test_data_and_metadata_files_are_read(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text(json.dumps([{"seat": "1A"}, {"seat": "1B"}]))
    (tmp_path / "md.json").write_text(json.dumps({"authorization": "Bearer t"}))
    options = RunOptions(data_file=str(tmp_path / "data.json"), metadata_file=str(tmp_path / "md.json"))
    resolved = resolve_files(options)
    assert resolved.data == [{"seat": "1A"}, {"seat": "1B"}] and resolved.metadata == {
        "authorization": "Bearer t"
    }
    assert not resolved.data_file and not resolved.metadata_file


def test_duration_makes_the_total_irrelevant_and_max_duration_keeps_it() -> None:
    assert RunOptions(duration=5.0, total=10).request_limit is None
    assert RunOptions(max_duration=5.0, total=10).request_limit == 10
    assert RunOptions(max_duration=5.0).run_seconds == 5.0
