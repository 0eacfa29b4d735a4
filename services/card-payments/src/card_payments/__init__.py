"""Card-payments service: the pupil card — turnstile pass and meals card — on a double-entry ledger."""
