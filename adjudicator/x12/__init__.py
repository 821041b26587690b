"""X12 documents the program sends: the 835 remittance (005010X221A1)."""
