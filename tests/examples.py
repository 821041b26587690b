"""The documents of API.md, verbatim: the one place tests take them from.

Each is a module-level constant; copy it (`copy.deepcopy`) before changing it.
"""

from __future__ import annotations

from typing import Any

CLAIM: dict[str, Any] = {
    "transaction_code": "B1",
    "cardholder_id": "C-0001",
    "group_id": "IPSENCARES",
    "service_provider_id": "1234567893",
    "prescriber_npi": "1245319599",
    "rx_number": "RX1001",
    "fill_number": 0,
    "date_of_service": "2026-03-01",
    "patient": {"date_of_birth": "2015-04-02"},
    "cob": {
        "other_coverage_code": 8,
        "other_payer_bin": "003858",
        "other_payer_pcn": "A4",
        "other_payer_reject_codes": [],
    },
    "lines": [
        {
            "kind": "drug",
            "code": "15054104005",
            "quantity": "8.000",
            "days_supply": 30,
            "patient_responsibility": "1500.00",
        },
        {"kind": "service", "code": "96372", "patient_responsibility": "40.00"},
    ],
    "diagnosis_code": "E34.3",
}

ENROLLMENT: dict[str, Any] = {
    "patient": {
        "first_name": "Olive",
        "last_name": "Example",
        "date_of_birth": "2015-04-02",
        "sex": "F",
        "address": {
            "line1": "1 Main St",
            "city": "Boston",
            "state": "MA",
            "zip": "02139",
            "country": "US",
        },
    },
    "coverage": {
        "type": "commercial",
        "covers_product": True,
        "payer_name": "Acme Health",
        "bin": "003858",
        "pcn": "A4",
    },
    "attestations": {"government_program": False, "other_assistance": False},
    "weight_kg": "25.0",
    "effective_date": "2026-01-01",
}

DECISION: dict[str, Any] = {
    "claim_id": "clm_1",
    "authorization_number": "AUTH1",
    "transaction_code": "B1",
    "status": "paid",
    "reject_codes": [],
    "amounts": {
        "patient_responsibility": "1540.00",
        "eligible": "1500.00",
        "program_paid": "1500.00",
        "patient_pay": "40.00",
    },
    "benefit": {
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "annual_max": "12000.00",
        "used_before": "0.00",
        "used_after": "1500.00",
        "remaining": "10500.00",
    },
    "cash_pay": False,
    "reasons": [
        {
            "rule": "state_drug_only",
            "outcome": "excluded",
            "message": "Injection services are not covered for residents of MA, MN, MI and RI.",
        }
    ],
    "messages": ["This benefit may not be submitted to an FSA, HSA or HRA for reimbursement."],
    "terms_version": "2020-01",
    "review": None,
    "channel": "json",
    "links": {"self": "/v1/claims/clm_1"},
}

TERMS: dict[str, Any] = {
    "program_id": "ipsen-cares-increlex",
    "version": "2020-01",
    "effective_date": "2020-01-01",
    "annual_max": "12000.00",
    "cash_pay_per_rx_max": "1000.00",
    "covered_ndcs": ["15054104005"],
    "covered_hcpcs": ["J2170"],
    "covered_service_codes": ["96372"],
    "drug_only_states": ["MA", "MN", "MI", "RI"],
    "excluded_coverage_types": [
        "medicare_part_b",
        "medicare_part_d",
        "medicaid",
        "medigap",
        "va",
        "dod",
        "tricare",
        "other_government",
    ],
    "government_payers": [{"bin": "610014", "pcn": "MEDDPRIME"}],
    "product_not_covered_reject_codes": ["70", "MR"],
    "network_chains": [
        "accredo",
        "optum_specialty",
        "briovarx",
        "cvs_specialty",
        "walgreens_specialty",
    ],
    "excluded_jurisdictions": [],
    "minimum_age_years": 2,
    "max_dose_mg_per_kg_per_day": "0.24",
    "concentration_mg_per_ml": "10",
    "routing": {"bin": "999999", "pcn": "IPSENCARES", "group_id": "IPSENCARES"},
}
