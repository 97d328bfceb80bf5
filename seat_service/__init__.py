"""SeatInventory: trips, segment-aware seat maps, and atomic holds that never oversell."""
