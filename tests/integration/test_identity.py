"""Credentials: hashed lookups, remembered briefly per process, re-keys at once."""

from __future__ import annotations

import pytest

from adjudicator.adapters import ledger
from adjudicator.services import identity
from tests.integration.builders import valid_npi

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh_cache():
    identity.forget_credentials()
    yield
    identity.forget_credentials()


def _rekey_behind_our_back(runtime, npi: str, new_key: str) -> None:
    """What `pharmacies add` in another process does: the row changes, our cache does not."""
    with runtime.engine.begin() as conn:
        ledger.upsert_pharmacy(conn, npi, "Other", "accredo", identity.token_hash(new_key))


def test_a_pharmacy_key_authenticates_as_its_pharmacy(runtime):
    added = identity.add_pharmacy(runtime.ledger, valid_npi(), "Pharmacy", "accredo")
    principal = identity.authenticate(runtime.ledger, added["api_key"])
    assert principal == identity.Principal("pharmacy", added["npi"], added["npi"])
    assert identity.authenticate(runtime.ledger, added["api_key"] + "x") is None


def test_a_key_re_keyed_elsewhere_keeps_working_only_until_the_cache_expires(runtime, monkeypatch):
    added = identity.add_pharmacy(runtime.ledger, valid_npi(), "Pharmacy", "accredo")
    assert identity.authenticate(runtime.ledger, added["api_key"]) is not None
    _rekey_behind_our_back(runtime, added["npi"], "pk_new")

    assert identity.authenticate(runtime.ledger, added["api_key"]) is not None  # remembered
    later = identity._clock() + identity.CREDENTIAL_CACHE_SECONDS + 0.1
    monkeypatch.setattr(identity, "_clock", lambda: later)
    assert identity.authenticate(runtime.ledger, added["api_key"]) is None
    assert identity.authenticate(runtime.ledger, "pk_new") is not None


def test_a_re_key_in_this_process_takes_effect_at_once(runtime):
    npi = valid_npi()
    old = identity.add_pharmacy(runtime.ledger, npi, "Pharmacy", "accredo")["api_key"]
    assert identity.authenticate(runtime.ledger, old) is not None
    new = identity.add_pharmacy(runtime.ledger, npi, "Pharmacy", "accredo")["api_key"]
    assert identity.authenticate(runtime.ledger, old) is None
    assert identity.authenticate(runtime.ledger, new) is not None


def test_an_unknown_key_is_not_remembered(runtime):
    npi = valid_npi()
    identity.add_pharmacy(runtime.ledger, npi, "Pharmacy", "accredo")
    assert identity.authenticate(runtime.ledger, "pk_later") is None
    _rekey_behind_our_back(runtime, npi, "pk_later")
    assert identity.authenticate(runtime.ledger, "pk_later") is not None


def test_a_lookup_overtaken_by_a_re_key_is_not_remembered(runtime, monkeypatch):
    npi = valid_npi()
    old = identity.add_pharmacy(runtime.ledger, npi, "Pharmacy", "accredo")["api_key"]
    lookup = identity._lookup

    def re_keyed_during_the_lookup(*args):  # type: ignore[no-untyped-def]  # patched in
        found = lookup(*args)  # reads the old key's pharmacy...
        identity.add_pharmacy(runtime.ledger, npi, "Pharmacy", "accredo")  # ...then it is re-keyed
        return found

    monkeypatch.setattr(identity, "_lookup", re_keyed_during_the_lookup)
    assert identity.authenticate(runtime.ledger, old) is not None  # the read was right when made
    monkeypatch.setattr(identity, "_lookup", lookup)
    assert identity.authenticate(runtime.ledger, old) is None  # and it was not remembered


@pytest.mark.parametrize("username", ["", "  ", " rita"])
def test_a_user_needs_a_name_without_surrounding_spaces(runtime, username: str):
    with pytest.raises(ValueError, match="non-empty name"):
        identity.add_user(runtime.ledger, username, "reviewer", "a password")
