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
                      **_problems(400, 401, 403, 409, 413, 415, 422, 503)},
    }},
    "/v1/events/batch": {"post": {
        "summary": "Record several envelopes, all or nothing",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "array", "items": _ref("Submission")}},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"201": _json({"type": "array", "items": _ref("Receipt")}),
                      "200": _json({"type": "array", "items": _ref("Receipt")}),
                      **_problems(400, 401, 403, 409, 413, 415, 422, 503)},
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
