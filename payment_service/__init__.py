"""Payment: idempotent authorize, capture, void and refund over a ledger, through a provider interface."""
