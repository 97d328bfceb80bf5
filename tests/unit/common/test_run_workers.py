"""run_workers refuses a worker function its spawned workers could not import."""

from __future__ import annotations

import pytest

from common.metrics import MetricsSettings
from common.server import run_workers
from common.settings import Env, ServerSettings


async def serve() -> None:
    """A stand-in worker body; never run here."""


def test_a_worker_defined_in_a_main_module_is_refused() -> None:
    serve.__module__ = "some_service.__main__"
    settings = ServerSettings.from_env(Env({"SOME_WORKERS": "2"}), "SOME", default_port=0)
    with pytest.raises(ValueError, match="workers cannot import it"):
        run_workers(serve, settings, MetricsSettings.from_env(Env({}), "SOME"))
