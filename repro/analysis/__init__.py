"""From results to statements: the tidy table and its intervals, the training bar, the claims ledger."""
