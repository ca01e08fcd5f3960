"""The OpenAPI 3.1 document of the HTTP API (DESIGN 6); tests fuzz the server against it."""

from __future__ import annotations

from typing import Any

HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
NONNEG = {"type": "integer", "minimum": 0}

PROBLEM = {
    "type": "object",
    "required": ["title", "status"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "code": {"type": "string"}, "rule": {"type": "string"}, "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "required": ["index"],
                                              "properties": {"index": NONNEG}}},
    },
}

RECEIPT = {
    "type": "object",
    "required": ["leaf_index", "leaf_hash", "stream", "version", "recorded_at"],
    "properties": {
        "leaf_index": NONNEG, "leaf_hash": HEX32, "stream": {"type": "string"},
        "version": {"type": "integer", "minimum": 1}, "recorded_at": {"type": "string"},
        "checkpoint": {"type": "string"},
        "inclusion": {"$ref": "#/components/schemas/InclusionProof"},
        # ?wait=checkpoint when no covering checkpoint could be had: recorded all the same
        "checkpoint_unavailable": {"type": "string"},
    },
}

INCLUSION = {
    "type": "object",
    "required": ["leaf_index", "tree_size", "leaf_hash", "hashes"],
    "properties": {"leaf_index": NONNEG, "tree_size": {"type": "integer", "minimum": 1},
                   "leaf_hash": HEX32, "hashes": {"type": "array", "items": HEX32}},
}

CONSISTENCY = {
    "type": "object",
    "required": ["from", "to", "hashes"],
    "properties": {"from": {"type": "integer", "minimum": 1}, "to": {"type": "integer"},
                   "hashes": {"type": "array", "items": HEX32}},
}

EVENT = {
    "type": "object",
    "required": ["version", "type", "leaf_index", "leaf_hash", "prev", "recorded_at", "signer",
                 "body"],
    "properties": {
        "version": {"type": "integer", "minimum": 1}, "type": {"type": "string"},
        "leaf_index": NONNEG, "leaf_hash": HEX32,
        "prev": {"oneOf": [HEX32, {"type": "null"}]},
        "recorded_at": {"type": "string"}, "signer": {"type": "string"},
        "body": {"type": "object"},
    },
}

STREAM = {
    "type": "object", "required": ["stream", "events"],
    "properties": {"stream": {"type": "string"},
                   "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}},
}

RESPONSIBLE = {"oneOf": [{"type": "null"}, {
    "type": "object", "required": ["department", "official"],
    "properties": {"department": {"type": "string"}, "official": {"type": "string"}}}]}
EVIDENCE = {"type": "array", "items": HEX32}
FEN = {"type": "integer"}
NULLABLE_FEN = {"oneOf": [{"type": "integer"}, {"type": "null"}]}
NULLABLE_DATE = {"oneOf": [DATE, {"type": "null"}]}

ARREARS_ROW = {
    "type": "object",
    "required": ["contract_id", "milestone_id", "payer", "payee", "due_date", "amount_fen",
                 "paid_fen", "disputed_fen", "contested_fen", "outstanding_fen",
                 "days_overdue", "interest_fen", "interest_paid_fen", "responsible",
                 "evidence"],
    "properties": {
        "contract_id": {"type": "string"}, "milestone_id": {"type": "string"},
        "payer": {"type": "string"}, "payee": {"type": "string"}, "due_date": DATE,
        "amount_fen": FEN, "paid_fen": FEN, "disputed_fen": FEN, "contested_fen": FEN,
        "outstanding_fen": FEN, "days_overdue": NONNEG, "interest_fen": FEN,
        "interest_paid_fen": FEN, "responsible": RESPONSIBLE, "evidence": EVIDENCE,
    },
}

BREACH_ROW = {
    "type": "object",
    "required": ["rule", "article", "subject_stream", "party", "responsible", "detected_on",
                 "detail", "evidence"],
    "properties": {
        "rule": {"type": "string"}, "article": {"type": "string"},
        "subject_stream": {"type": "string"}, "party": {"type": "string"},
        "responsible": RESPONSIBLE, "detected_on": DATE, "detail": {"type": "string"},
        "evidence": EVIDENCE,
        "accountability": {"type": "array", "items": {"type": "object"}},
    },
}

COMPENSATION_ROW = {
    "type": "object",
    "required": ["duty_id", "cause", "beneficiary", "amount_fen", "due_date", "paid_fen",
                 "outstanding_fen", "days_overdue", "status"],
    "properties": {
        "duty_id": {"type": "string"}, "cause": {"type": "string"},
        "beneficiary": {"type": "string"}, "amount_fen": NULLABLE_FEN,
        "due_date": NULLABLE_DATE, "paid_fen": FEN, "outstanding_fen": NULLABLE_FEN,
        "days_overdue": NONNEG,
        "status": {"enum": ["awaiting_determination", "undetermined", "open", "overdue",
                            "paid"]},
    },
}


def _report(row: dict[str, Any], totals: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object", "required": ["as_of", "log_size", "rows"],
        "properties": {"as_of": DATE, "log_size": NONNEG,
                       "rows": {"type": "array", "items": row}},
    }
    if totals:
        schema["required"].append("totals")
        schema["properties"]["totals"] = {"type": "object",
                                          "additionalProperties": {"type": "integer"}}
    return schema


DOCUMENT = {
    "type": "object", "required": ["sha256", "log_size", "checkpoint", "events"],
    "properties": {
        "sha256": HEX32, "log_size": NONNEG, "checkpoint": {"type": "string"},
        "events": {"type": "array", "items": {
            "type": "object",
            "required": ["sha256", "field", "leaf_index", "leaf_hash", "stream", "version",
                         "type", "inclusion"],
            "properties": {"sha256": HEX32, "field": {"type": "string"},
                           "leaf_index": NONNEG, "leaf_hash": HEX32,
                           "stream": {"type": "string"}, "version": NONNEG,
                           "type": {"type": "string"},
                           "inclusion": {"$ref": "#/components/schemas/InclusionProof"}}}},
    },
}

SUBJECT = {
    "type": "object", "required": ["stream", "log_size", "state", "events"],
    "properties": {
        "stream": {"type": "string"}, "log_size": NONNEG, "state": {"type": "object"},
        "events": {"type": "array", "items": {
            "type": "object",
            "required": ["version", "type", "leaf_index", "leaf_hash", "recorded_at"],
            "properties": {"version": NONNEG, "type": {"type": "string"},
                           "leaf_index": NONNEG, "leaf_hash": HEX32,
                           "recorded_at": {"type": "string"}}}},
    },
}

SUBMISSION = {
    "type": "object", "required": ["envelope", "signature"], "additionalProperties": False,
    "properties": {"envelope": {"type": "string", "contentEncoding": "base64"},
                   "signature": {"type": "string", "contentEncoding": "base64"}},
}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "problem", "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for s in statuses}


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _q(name: str, schema: dict[str, Any], required: bool = False,
       description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


AT = _q("at", NONNEG, description="as known at this tree size")
AS_OF = _q("as_of", DATE, description="business date (China Standard Time); default today")
USCC_Q = {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"}
STREAM_KINDS = {"type": "string", "enum": ["contract", "commitment", "party", "complaint",
                                           "reference"]}

PATHS: dict[str, Any] = {
    "/v1/events": {"post": {
        "summary": "Record one signed envelope",
        "parameters": [_q("wait", {"type": "string", "enum": ["checkpoint"]})],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _ref("Submission")},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"201": _json(_ref("Receipt"), "recorded"),
                      "200": _json(_ref("Receipt"), "already recorded: the original receipt"),
                      **_problems(400, 401, 403, 408, 409, 413, 415, 422, 503)},
    }},
    "/v1/events/batch": {"post": {
        "summary": "Record several envelopes, all or nothing",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "array", "items": _ref("Submission")}},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"201": _json({"type": "array", "items": _ref("Receipt")}),
                      "200": _json({"type": "array", "items": _ref("Receipt")}),
                      **_problems(400, 401, 403, 408, 409, 413, 415, 422, 503)},
    }},
    "/v1/log/checkpoint": {"get": {
        "summary": "The latest signed checkpoint (C2SP tlog-checkpoint, signed note)",
        "responses": {"200": {"description": "signed note",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                      **_problems(503)}}},
    "/v1/log/key": {"get": {
        "summary": "The log's verifier key",
        "responses": {"200": {"description": "vkey",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                      **_problems(404)}}},
    "/v1/log/entries/{index}": {"get": {
        "summary": "The exact leaf bytes",
        "parameters": [{"name": "index", "in": "path", "required": True, "schema": NONNEG}],
        "responses": {"200": {"description": "leaf", "content": {
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}}}},
            **_problems(400, 404)}}},
    "/v1/log/proof/inclusion": {"get": {
        "summary": "RFC 6962 audit path",
        "parameters": [_q("leaf_hash", HEX32), _q("index", NONNEG), _q("tree_size", NONNEG)],
        "responses": {"200": _json(_ref("InclusionProof")), **_problems(400, 404)}}},
    "/v1/log/proof/consistency": {"get": {
        "summary": "RFC 6962 consistency proof",
        "parameters": [_q("from", NONNEG, required=True), _q("to", NONNEG)],
        "responses": {"200": _json(_ref("ConsistencyProof")), **_problems(400)}}},
    "/v1/log/tile/{path}": {"get": {
        "summary": "C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]",
        "parameters": [{"name": "path", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "tile bytes", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            **_problems(400, 404)}}},
    "/v1/streams/{kind}/{id}": {"get": {
        "summary": "A stream's history, as known at tree size `at`",
        "parameters": [{"name": "kind", "in": "path", "required": True, "schema": STREAM_KINDS},
                       {"name": "id", "in": "path", "required": True,
                        "schema": {"type": "string"}}, AT],
        "responses": {"200": _json(_ref("Stream")), **_problems(400, 404)}}},
    "/v1/arrears": {"get": {
        "summary": "Overdue milestones and late interest (DESIGN 5)",
        "parameters": [AS_OF, AT, _q("payer", USCC_Q), _q("payee", USCC_Q)],
        "responses": {"200": _json(_report(ARREARS_ROW, totals=True)),
                      **_problems(400, 503)}}},
    "/v1/breaches": {"get": {
        "summary": "Breach rows by rule and article",
        "parameters": [AS_OF, AT, _q("rule", {"type": "string"}), _q("party", USCC_Q)],
        "responses": {"200": _json(_report(BREACH_ROW)), **_problems(400, 503)}}},
    "/v1/compensation": {"get": {
        "summary": "Compensation duties opened by commitment changes",
        "parameters": [AS_OF, AT],
        "responses": {"200": _json(_report(COMPENSATION_ROW)), **_problems(400, 503)}}},
    "/v1/accountability": {"get": {
        "summary": "Accountability register (Hami Art. 64): open breaches with the "
                   "responsible department and official and recorded findings",
        "parameters": [AS_OF, AT],
        "responses": {"200": _json(_report(BREACH_ROW)), **_problems(400, 503)}}},
    "/v1/documents/{sha256}": {"get": {
        "summary": "Every event naming a document hash, each with an inclusion proof",
        "parameters": [{"name": "sha256", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": _json(DOCUMENT), **_problems(400, 404, 503)}}},
    "/v1/contracts/{id}": {"get": {
        "summary": "A contract's current state (or at tree size `at`) with its leaf hashes",
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "string"}}, AT],
        "responses": {"200": _json(SUBJECT), **_problems(400, 404)}}},
    "/v1/commitments/{id}": {"get": {
        "summary": "A commitment's current state (or at tree size `at`) with its leaf hashes",
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "string"}}, AT],
        "responses": {"200": _json(SUBJECT), **_problems(400, 404)}}},
    "/v1/openapi.json": {"get": {"summary": "This document",
                                 "responses": {"200": _json({"type": "object"})}}},
    "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json({
        "type": "object", "required": ["status", "tree_size"],
        "properties": {"status": {"const": "ok"}, "tree_size": NONNEG}})}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
        "description": "text exposition",
        "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
}

SCHEMAS: dict[str, Any] = {
    "Problem": PROBLEM, "Receipt": RECEIPT, "InclusionProof": INCLUSION,
    "ConsistencyProof": CONSISTENCY, "Event": EVENT, "Stream": STREAM, "Submission": SUBMISSION,
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "commitment-ledger", "version": "1",
                 "description": "A signed, tamper-evident ledger of public commitments, "
                                "contracts and payments."},
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }
