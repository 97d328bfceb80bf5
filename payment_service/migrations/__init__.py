"""SQL migrations of the payment ledger, applied by common.migrations."""
