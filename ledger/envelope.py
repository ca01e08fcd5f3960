"""Signed envelopes (DESIGN 3.3): what a submitter signs, and how a submission travels."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import encoding
from .errors import InvalidInput, MissingField, NonCanonical, TooLarge, UnknownField, WrongType
from .keys import SignerKey, VerifierKey
from .timeutil import format_instant, looks_like_instant, parse_instant, utc_now

DOMAIN = b"commitment-ledger/envelope/v1\n"
MAX_ENVELOPE_BYTES = 60_000  # leaves hold at most 65,535 bytes in all
_REQUIRED = {"v", "type", "stream", "body", "signer", "signed_at", "nonce"}
_ALLOWED = _REQUIRED | {"expect_version"}


def signing_message(envelope_bytes: bytes) -> bytes:
    """The exact bytes an envelope signature covers (domain-separated)."""
    return DOMAIN + envelope_bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    stream: str
    body: dict[str, Any]
    signer: str
    signed_at: str
    nonce: bytes
    expect_version: int | None = None

    def to_map(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "v": 1,
            "type": self.type,
            "stream": self.stream,
            "body": self.body,
            "signer": self.signer,
            "signed_at": self.signed_at,
            "nonce": self.nonce,
        }
        if self.expect_version is not None:
            result["expect_version"] = self.expect_version
        return result

    @classmethod
    def from_map(cls, value: Any) -> Envelope:
        if not isinstance(value, dict):
            raise WrongType("envelope must be a map", field="envelope")
        missing = sorted(_REQUIRED - value.keys())
        if missing:
            raise MissingField(f"envelope field {missing[0]!r} is missing", field=missing[0])
        unknown = sorted(value.keys() - _ALLOWED)
        if unknown:
            raise UnknownField(f"envelope field {unknown[0]!r} is not allowed", field=unknown[0])
        if value["v"] != 1 or isinstance(value["v"], bool):
            raise InvalidInput(f"envelope version {value['v']!r} is not supported (expected 1)")
        for name in ("type", "stream", "signer", "signed_at"):
            if not isinstance(value[name], str):
                raise WrongType(f"envelope field {name!r} must be text", field=name)
        if not isinstance(value["body"], dict):
            raise WrongType("envelope field 'body' must be a map", field="body")
        nonce = value["nonce"]
        if not isinstance(nonce, bytes) or len(nonce) != 16:
            raise WrongType("envelope field 'nonce' must be 16 bytes (bin)", field="nonce")
        _check_signed_at(value["signed_at"])
        expect = value.get("expect_version")
        if expect is not None and (isinstance(expect, bool) or not isinstance(expect, int)
                                   or expect < 0):
            raise WrongType(
                "envelope field 'expect_version' must be a non-negative integer",
                field="expect_version",
            )
        return cls(
            type=value["type"],
            stream=value["stream"],
            body=value["body"],
            signer=value["signer"],
            signed_at=value["signed_at"],
            nonce=nonce,
            expect_version=expect,
        )


def _check_signed_at(text: str) -> None:
    """An RFC 3339 UTC instant in ASCII that is a real moment.

    The shared pattern's ``\\d`` also matches other scripts' digits and its ``$`` a final
    newline; the application parses ``signed_at`` later, so anything it could not parse
    must be refused here, as input, before it can fail a whole group commit.
    """
    if not (text.isascii() and not text.endswith("\n") and looks_like_instant(text)):
        raise WrongType(
            "envelope field 'signed_at' must be an RFC 3339 UTC instant", field="signed_at"
        )
    try:
        parse_instant(text)
    except ValueError:
        raise WrongType(f"envelope field 'signed_at' {text!r} is not a real instant",
                        field="signed_at") from None


@dataclass(frozen=True, slots=True)
class Submission:
    """Envelope bytes exactly as received, with their signature."""

    envelope_bytes: bytes
    signature: bytes

    @property
    def envelope_sha256(self) -> bytes:
        return hashlib.sha256(self.envelope_bytes).digest()

    def decode(self) -> Envelope:
        if len(self.envelope_bytes) > MAX_ENVELOPE_BYTES:
            raise TooLarge(
                f"envelope of {len(self.envelope_bytes)} bytes exceeds {MAX_ENVELOPE_BYTES}"
            )
        return Envelope.from_map(encoding.decode(self.envelope_bytes))

    def verify_with(self, key: VerifierKey) -> bool:
        return key.verify(self.signature, signing_message(self.envelope_bytes))

    # Wire forms --------------------------------------------------------------
    def to_msgpack_map(self) -> dict[str, bytes]:
        return {"envelope": self.envelope_bytes, "signature": self.signature}

    def to_json_map(self) -> dict[str, str]:
        return {
            "envelope": base64.b64encode(self.envelope_bytes).decode(),
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_wire(cls, value: Any) -> Submission:
        """From a decoded msgpack map (bin fields) or JSON object (base64 fields)."""
        if not isinstance(value, dict):
            raise WrongType("a submission must be a map with 'envelope' and 'signature'")
        for name in ("envelope", "signature"):
            if name not in value:
                raise MissingField(f"submission field {name!r} is missing", field=name)
        # Sorted by repr: a msgpack map may mix text and binary keys, which do not compare.
        unknown = sorted(set(value) - {"envelope", "signature"}, key=repr)
        if unknown:
            raise UnknownField(f"submission field {unknown[0]!r} is not allowed",
                               field=str(unknown[0]))
        parts: dict[str, bytes] = {}
        for name in ("envelope", "signature"):
            item = value[name]
            if isinstance(item, bytes):
                parts[name] = item
            elif isinstance(item, str):
                try:
                    parts[name] = base64.b64decode(item.encode("ascii"), validate=True)
                except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
                    raise WrongType(f"submission field {name!r} is not base64",
                                    field=name) from exc
            else:
                raise WrongType(f"submission field {name!r} must be bytes or base64 text",
                                field=name)
        if len(parts["signature"]) != 64:
            raise WrongType("signature must be 64 bytes (Ed25519)", field="signature")
        return cls(parts["envelope"], parts["signature"])

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Submission:
        return cls.from_wire(parse_json(data))

    @classmethod
    def from_msgpack_bytes(cls, data: bytes) -> Submission:
        return cls.from_wire(parse_msgpack_wire(data))


def parse_json(data: bytes) -> Any:
    def no_constants(name: str) -> Any:
        raise InvalidInput(f"JSON constant {name} is not allowed")

    try:
        return json.loads(data, parse_constant=no_constants)
    except (ValueError, RecursionError) as exc:
        # ValueError covers decoding errors and integer literals beyond Python's digit
        # limit (a plain ValueError, not a JSONDecodeError).
        raise InvalidInput(f"not valid JSON: {str(exc)[:200]}") from exc


def parse_msgpack_wire(data: bytes) -> Any:
    """Decode a wire-level msgpack document (not itself signed: no canonical check)."""
    import msgpack

    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True,
                               ext_hook=_refuse_ext)
    except NonCanonical:
        raise
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise InvalidInput(f"not valid msgpack: {exc}") from exc


def _refuse_ext(code: int, data: bytes) -> Any:
    raise InvalidInput(f"msgpack ext type {code} is not allowed")


def sign_envelope(
    key: SignerKey,
    type: str,
    stream: str,
    body: dict[str, Any],
    *,
    signed_at: datetime | str | None = None,
    nonce: bytes | None = None,
    expect_version: int | None = None,
) -> Submission:
    """Build, canonically encode and sign an envelope (client side)."""
    if isinstance(signed_at, datetime):
        signed_at = format_instant(signed_at)
    envelope = Envelope(
        type=type,
        stream=stream,
        body=body,
        signer=key.name,
        signed_at=signed_at or format_instant(utc_now().replace(microsecond=0)),
        nonce=nonce if nonce is not None else os.urandom(16),
        expect_version=expect_version,
    )
    envelope_bytes = encoding.encode(envelope.to_map())
    return Submission(envelope_bytes, key.sign(signing_message(envelope_bytes)))
