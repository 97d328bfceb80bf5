"""The service scenarios' plumbing: call data, start-up hooks, the wrk script, the OTLP sink, figures."""

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import grpc
import pytest

from benchmarks import calltemplate, procstat
from benchmarks.scenarios import booking_flow, gateway, overheads, payment
from benchmarks.stack import StackError

FUNCTIONS = calltemplate.functions({})


def render(source: str, request_number: int) -> str:
    return calltemplate.parse(source).render({"RequestNumber": request_number, "UUID": "u"}, FUNCTIONS)


def run_python(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_reserve_data_gives_each_request_of_a_round_its_own_trip_and_seat() -> None:
    trips = ["t1", "t2", "t3"]
    data = booking_flow.reserve_data(trips)
    cells: set[tuple[str, str]] = set()
    for n in range(len(trips) * booking_flow.SEATS_PER_TRIP):
        element = data[n % len(trips)]
        seat = render(element["seat_numbers"][0], n)
        assert render(element["passengers"][0]["seat_number"], n) == seat
        cells.add((element["trip_id"], seat))
    assert len(cells) == len(trips) * booking_flow.SEATS_PER_TRIP
    assert {seat for _, seat in cells} == {f"{row}{col}" for row in range(1, 6) for col in "ABCD"}


def test_confirm_and_capture_data_have_one_element_per_id() -> None:
    confirm = booking_flow.confirm_data(["b1", "b2"], "tok_success")
    assert [c["booking_id"] for c in confirm] == ["b1", "b2"]
    assert {c["payment_token"] for c in confirm} == {"tok_success"}
    capture = payment.capture_data(["p1", "p2", "p3"])
    assert [c["payment_id"] for c in capture] == ["p1", "p2", "p3"]
    assert payment.authorize_data()["payment_token"] == payment.CARD


def test_the_profile_hook_profiles_only_between_the_signals(tmp_path: Path) -> None:
    stats = tmp_path / "out.prof"
    env = booking_flow.launcher_environment(
        tmp_path / "hook", booking_flow.PROFILE_HOOK.format(path=str(stats))
    )
    code = (
        "import os, signal\n"
        "def before(): return sum(range(10000))\n"
        "def measured(): return sum(range(200000))\n"
        "before()\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "for _ in range(20): measured()\n"
        "os.kill(os.getpid(), signal.SIGUSR2)\n"
    )
    run_python(env, code)
    summary = booking_flow.profile_summary(stats)
    names = [row["function"] for row in summary["cumulative"] + summary["own"]]
    assert any("(measured)" in name for name in names)
    assert not any("(before)" in name for name in names)
    assert {"function", "calls", "seconds", "share"} <= set(summary["own"][0])


def test_the_stand_in_hook_replaces_authentication_in_the_platform(tmp_path: Path) -> None:
    env = booking_flow.launcher_environment(tmp_path, overheads.STAND_IN_HOOK)
    out = run_python(
        env,
        "import common.platform as p\n"
        "print([type(i).__name__ for i in p.Platform.auth_interceptors(None, None)])",
    )
    assert out.strip() == "['PrincipalFromMetadata']"


def test_the_metrics_off_hook_swaps_the_metrics_interceptors(tmp_path: Path) -> None:
    env = booking_flow.launcher_environment(tmp_path, overheads.METRICS_OFF_HOOK)
    out = run_python(
        env,
        "import common.platform as p\n"
        "print(p.ServerMetricsInterceptor.__name__, p.client_metrics_interceptors())",
    )
    assert out.strip() == "_NoServerMetrics []"


def test_the_otlp_sink_accepts_and_counts_exports() -> None:
    with overheads.otlp_sink() as (endpoint, exports):
        assert endpoint.startswith("http://127.0.0.1:")
        with grpc.insecure_channel(endpoint.removeprefix("http://")) as channel:
            export = channel.unary_unary(overheads.OTLP_EXPORT_PATH)
            assert export(b"", timeout=10) == b""
        assert exports() == 1


def test_h2load_argv_uses_http1_for_the_gateway_and_http2_for_grpc() -> None:
    if shutil.which("h2load") is None:
        pytest.skip("h2load not installed")
    http = gateway.h2load_argv("http://127.0.0.1:1/v1/x", {"authorization": "Bearer t"}, 32, 1, 2.0)
    assert "--h1" in http and http[-1] == "http://127.0.0.1:1/v1/x"
    assert http[http.index("-H") + 1] == "authorization: Bearer t"
    grpc_argv = gateway.h2load_argv("https://127.0.0.1:1/a.B/C", {}, 4, 8, 2.0)
    assert "--h1" not in grpc_argv and grpc_argv[grpc_argv.index("-m") + 1] == "8"


def test_wrk_result_reads_the_scripts_line() -> None:
    output = 'Running 1s test\n\nWRK_RESULT {"requests":5,"durationUs":1000,"non2xx":1,"socketErrors":0,' + (
        '"p50Us":10,"p99Us":20}\nRequests/sec: 5\n'
    )
    assert gateway.wrk_result(output)["non2xx"] == 1
    with pytest.raises(StackError):
        gateway.wrk_result("no result")


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, object]]] = []
    headers_seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Recorder.bodies.append(json.loads(self.rfile.read(length)))
        _Recorder.headers_seen.append(self.headers["Authorization"])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_wrk_script_posts_a_different_seat_per_request() -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk not installed")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        script = gateway.wrk_script(["t1", "t2"], "Bearer abc")
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/bookings"
        run = gateway.run_wrk("recorded", url, script, 1, {})
    finally:
        server.shutdown()
    bodies = _Recorder.bodies
    assert run.requests > 0 and len(bodies) > 0 and run.failed == 0
    assert set(_Recorder.headers_seen) == {"Bearer abc"}
    round_one = [
        b for b in bodies if int(str(b["requestId"]).removeprefix("wrk-")) < 2 * booking_flow.SEATS_PER_TRIP
    ]
    cells = {(str(b["tripId"]), str(b["seatNumbers"])) for b in round_one}
    assert len(round_one) > booking_flow.SEATS_PER_TRIP and len(cells) == len(round_one)
    assert {b["fromStop"] for b in bodies} == {"A"} and {b["toStop"] for b in bodies} == {"D"}
    assert len({b["requestId"] for b in bodies}) == len(bodies)


def _http_run(requests: int, failed: int, seconds: float, p99: float, gateway_cpu: float) -> gateway.HttpRun:
    usage = procstat.Usage(seconds, {"gateway": gateway_cpu, "seat": 1.0}, 0.5, 2)
    return gateway.HttpRun("run", requests, failed, seconds, p99 / 2, p99, usage)


def test_compare_gives_the_http_hop_as_ratios_of_grpc() -> None:
    direct = _http_run(1000, 0, 10.0, 20.0, 0.0)
    through = _http_run(700, 0, 10.0, 30.0, 0.7)
    figures = gateway.compare(direct, through)
    assert figures["throughputRatio"] == 0.7
    assert figures["hopCost"] == 0.3
    assert figures["p99Ratio"] == 1.5
    assert figures["gatewayUsPerRequest"] == 1000.0


def test_rounds_visit_every_variant_then_again_in_reverse() -> None:
    assert overheads.round_order(2, repeats=1) == [0, 1, 1, 0]
    assert overheads.round_order(3, repeats=2) == [0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0]
