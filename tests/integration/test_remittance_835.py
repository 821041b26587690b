"""The 835 of a remittance, read back by outside tools: edi-835-parser (every CLP amount
and the BPR total match the JSON remittance) and pyx12 (valid 005010X221A1); and it
balances: BPR02 = sum of CLP04 - sum of PLB amounts."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import edi_835_parser
import pytest
import pyx12.params
import pyx12.x12n_document

from adjudicator.services import payments, remittance_835, reversals
from adjudicator.services.runtime import Runtime
from tests.integration.builders import claim_payload, enroll, pay, pharmacy

pytestmark = pytest.mark.integration
ADMIN = "user:admin"


def _remittance(rt: Runtime, cycle: dict, npi: str) -> dict:
    page = payments.list_remittances(rt, cycle_id=cycle["cycle_id"], npi=npi, limit=10, cursor=None)
    return payments.get_remittance(rt, page["items"][0]["remittance_id"], npi=npi)


def _segments(document: str, segment_id: str) -> list[list[str]]:
    lines = [line.rstrip("~").split("*") for line in document.splitlines()]
    return [line for line in lines if line[0] == segment_id]


def _valid(document: str) -> bool:
    return pyx12.x12n_document.x12n_document(
        pyx12.params.params(), io.StringIO(document), None, None
    )


def _cycles_with_a_debt_recovered(rt: Runtime) -> tuple[str, list[dict]]:
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2024-01-01")["cardholder_id"]
    first = pay(rt, claim_payload(member, npi, responsibility="1500.00"))
    cycles = [payments.close(rt, None, ADMIN)]
    reversals.reverse(rt, first.claim_id, npi, "pharmacy:test")
    cycles.append(payments.close(rt, None, ADMIN))
    pay(rt, claim_payload(member, npi, responsibility="1000.00", rx_number="RX2"))
    pay(rt, claim_payload(member, npi, responsibility="900.00", rx_number="RX3"))
    cycles.append(payments.close(rt, None, ADMIN))
    return npi, cycles


# edi-835-parser reads no PLB (it warns when it meets one): the test reads PLB itself.
@pytest.mark.filterwarnings("ignore:Identifier. PLB not handled:UserWarning")
def test_every_835_parses_validates_and_balances_as_its_json_remittance(rt, tmp_path: Path):
    npi, cycles = _cycles_with_a_debt_recovered(rt)
    for n, cycle in enumerate(cycles):
        remittance = _remittance(rt, cycle, npi)
        document = remittance_835.as_835(rt, remittance["remittance_id"], npi=npi)
        assert _valid(document), document
        path = tmp_path / f"r{n}.835"
        path.write_text(document)
        [parsed] = edi_835_parser.parse(str(path))

        clp_paid = [Decimal(str(c.claim.paid_amount)) for c in parsed.claims]
        json_lines = [Decimal(line["amount"]) for line in remittance["lines"]]
        assert clp_paid == json_lines
        assert Decimal(str(parsed.financial_information.amount_paid)) == Decimal(
            remittance["payment"]
        )
        plb = sum(Decimal(s[4]) for s in _segments(document, "PLB"))
        assert plb == Decimal(remittance["total"]) - Decimal(remittance["payment"])
        assert Decimal(_segments(document, "BPR")[0][2]) == sum(clp_paid) - plb


def test_a_reversal_is_clp_22_and_a_recovered_debt_is_one_plb_fb(rt):
    npi, cycles = _cycles_with_a_debt_recovered(rt)
    owing = remittance_835.as_835(rt, _remittance(rt, cycles[1], npi)["remittance_id"], npi=npi)
    recovering = remittance_835.as_835(
        rt, _remittance(rt, cycles[2], npi)["remittance_id"], npi=npi
    )

    [reversal] = _segments(owing, "CLP")
    assert (reversal[2], reversal[4]) == ("22", "-1500.00")
    assert _segments(owing, "BPR")[0][1:3] == ["H", "0.00"]
    [debt] = _segments(owing, "PLB")
    assert debt[3].startswith("FB:") and debt[4] == "-1500.00"
    [recovered] = _segments(recovering, "PLB")
    assert recovered[4] == "1500.00"
    assert _segments(recovering, "BPR")[0][1:3] == ["I", "400.00"]


def test_another_pharmacys_835_is_not_found(rt):
    npi, cycles = _cycles_with_a_debt_recovered(rt)
    remittance_id = _remittance(rt, cycles[0], npi)["remittance_id"]
    with pytest.raises(Exception, match="not found"):
        remittance_835.as_835(rt, remittance_id, npi=pharmacy(rt))


def test_the_835_is_served_as_edi_x12_to_its_pharmacy_only(rt, tmp_path):
    from adjudicator.services import identity
    from tests.integration.builders import pharmacy_bearer, web_app

    key, npi = pharmacy_bearer(rt)
    member = enroll(rt, effective_date="2024-01-01")["cardholder_id"]
    pay(rt, claim_payload(member, npi))
    remittance = _remittance(rt, payments.close(rt, None, ADMIN), npi)
    other_key, _ = pharmacy_bearer(rt)
    reviewer = identity.add_user(rt.ledger, "835-reviewer", "reviewer", None)["api_token"]
    path = f"/v1/remittances/{remittance['remittance_id']}/835"
    with web_app(rt, tmp_path) as app, app.test_client() as client:
        mine = client.get(path, headers=key)
        hidden = client.get(path, headers=other_key)
        staff = client.get(path, headers={"Authorization": f"Bearer {reviewer}"})
    assert mine.status_code == 200 and mine.mimetype == "application/EDI-X12"
    assert mine.text.startswith("ISA*") and _valid(mine.text)
    assert hidden.status_code == 404 and staff.status_code == 200
