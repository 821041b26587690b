"""OpenAPI helpers: document a JSON body or a query string without letting smorest
parse it."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema


def json_body(schema: type[Schema]) -> dict[str, Any]:
    # We parse bodies ourselves (auth first, problem+json errors); this only documents.
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def query_params(schema: type[Schema]) -> dict[str, Any]:
    # apispec's marshmallow plugin spreads a schema given `in: query` into one parameter
    # per field; load_query() parses them (problem+json errors).
    return {"parameters": [{"in": "query", "schema": schema}]}


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
