"""What start-up leaves alive is frozen out of the collector's sight; the collector keeps running."""

import gc

from common.server import freeze_start_up_objects


def test_start_up_objects_are_frozen_and_collection_goes_on() -> None:
    survivor = [object() for _ in range(1000)]
    try:
        freeze_start_up_objects()
        assert gc.get_freeze_count() >= len(survivor)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
