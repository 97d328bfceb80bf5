"""Renders every listed kustomization up front, in parallel, so the tests read from the cache."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.k8s.manifests import RENDERED, render


@pytest.fixture(scope="session", autouse=True)
def _rendered() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(render, sorted(RENDERED)))
