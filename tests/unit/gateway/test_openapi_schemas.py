"""Integer patterns in the spec accept exactly the decimal strings the translator accepts."""

from __future__ import annotations

import random
import re

import pytest

from gateway.marshal import DECIMAL_INTEGER
from gateway.openapi_schemas import decimal_pattern

RANGES = [(-(2**31), 2**31 - 1), (0, 2**32 - 1), (-(2**63), 2**63 - 1), (0, 2**64 - 1)]


def accepted(text: str, low: int, high: int) -> bool:
    return bool(DECIMAL_INTEGER.match(text)) and low <= int(text) <= high


def candidates(low: int, high: int) -> list[str]:
    edges = [
        low,
        low + 1,
        -1,
        0,
        1,
        9,
        10,
        high - 1,
        high,
        high + 1,
        low - 1,
        high * 10,
        10 ** len(str(high)),
    ]
    rng = random.Random(low ^ high)
    numbers = edges + [rng.randrange(low - 10, high + 10) for _ in range(2000)]
    texts = [str(number) for number in numbers]
    return [*texts, "-0", "+1", "007", "1_0", "", "-", "1e3", " 1", "٣"]


@pytest.mark.parametrize(("low", "high"), RANGES)
def test_the_pattern_is_the_range(low: int, high: int) -> None:
    pattern = re.compile(decimal_pattern(low, high))
    for text in candidates(low, high):
        assert bool(pattern.match(text)) is accepted(text, low, high), text
