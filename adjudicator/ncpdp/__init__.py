"""NCPDP Telecommunication D.0: our codec (no Flask, Celery or I/O) and the mapping of
its transactions onto the adjudicator's claims (../shared/spec/NCPDP.md)."""
