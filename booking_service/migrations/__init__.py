"""SQL migrations of the booking service, applied in order by `common.migrations`."""
