"""The exception tree of the ledger.

Every rejection is a distinct type carrying an HTTP-like status, a stable
machine-readable ``code`` and a message that names the field or the rule.
Verification failures (evidence of tampering) are separate from malformed input.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of everything the ledger raises on purpose."""

    status: int = 500
    code: str = "ledger_error"
    title: str = "Ledger error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"https://commitment-ledger.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        for key, value in self.detail.items():
            problem[key] = value.hex() if isinstance(value, bytes) else value
        return problem


# 400 -----------------------------------------------------------------------
class InvalidInput(LedgerError):
    status = 400
    code = "invalid_input"
    title = "Malformed input"


class NonCanonical(InvalidInput):
    code = "non_canonical"
    title = "Not in canonical form"


class SchemaError(InvalidInput):
    code = "schema"
    title = "Body does not match the event schema"


class MissingField(SchemaError):
    code = "missing_field"
    title = "Required field missing"


class UnknownField(SchemaError):
    code = "unknown_field"
    title = "Unknown field"


class WrongType(SchemaError):
    code = "wrong_type"
    title = "Field has the wrong type"


class NotInEnumeration(SchemaError):
    code = "not_in_enumeration"
    title = "Value outside its enumeration"


class UnknownEventType(SchemaError):
    code = "unknown_event_type"
    title = "Unknown event type"


class WrongStream(SchemaError):
    code = "wrong_stream"
    title = "Event type does not belong to this stream kind"


class InvalidKey(InvalidInput):
    code = "invalid_key"
    title = "Malformed key"


class InvalidNote(InvalidInput):
    code = "invalid_note"
    title = "Malformed signed note"


# 401 -----------------------------------------------------------------------
class Unauthorized(LedgerError):
    status = 401
    code = "unauthorized"
    title = "Signature not accepted"


class UnknownKey(Unauthorized):
    code = "unknown_key"
    title = "Unknown signing key"


class BadSignature(Unauthorized):
    code = "bad_signature"
    title = "Signature does not verify"


# 403 -----------------------------------------------------------------------
class Forbidden(LedgerError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class KeyRevoked(Forbidden):
    code = "key_revoked"
    title = "Signing key revoked"


class RoleNotAllowed(Forbidden):
    code = "role_not_allowed"
    title = "Signer may not record this event"


# 404 -----------------------------------------------------------------------
class NotFound(LedgerError):
    status = 404
    code = "not_found"
    title = "Not found"


class StreamNotFound(NotFound):
    code = "stream_not_found"
    title = "Unknown stream"


class EntryNotFound(NotFound):
    code = "entry_not_found"
    title = "Unknown log entry"


# 409 -----------------------------------------------------------------------
class Conflict(LedgerError):
    status = 409
    code = "conflict"
    title = "Conflict"


class VersionConflict(Conflict):
    code = "version_conflict"
    title = "Stream version conflict"


class NonceReused(Conflict):
    code = "nonce_reused"
    title = "Nonce already used with a different envelope"


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "Identifier already exists"


# 408 -----------------------------------------------------------------------
class RequestTimeout(LedgerError):
    status = 408
    code = "request_timeout"
    title = "Request not received in time"


# 413 -----------------------------------------------------------------------
class TooLarge(LedgerError):
    status = 413
    code = "too_large"
    title = "Too large"


# 422 -----------------------------------------------------------------------
class RuleViolation(LedgerError):
    """Well-formed but refused by a rule; ``rule`` names it."""

    status = 422
    code = "rule_violation"
    title = "Refused by a rule"

    def __init__(self, rule: str, message: str, **detail: Any) -> None:
        super().__init__(f"{rule}: {message}", rule=rule, **detail)
        self.rule = rule


class BatchRejected(LedgerError):
    """A batch in which at least one item failed; nothing was recorded."""

    code = "batch_rejected"
    title = "Batch rejected; nothing recorded"

    def __init__(self, failures: list[tuple[int, LedgerError]]) -> None:
        self.failures = failures
        first = failures[0][1]
        self.status = first.status if all(f.status == first.status for _, f in failures) else 400
        super().__init__(
            f"{len(failures)} item(s) failed; first at index {failures[0][0]}: {first.message}",
            errors=[{"index": i, **e.to_problem()} for i, e in failures],
        )


# Verification (outsiders' checks) -------------------------------------------
class VerificationError(LedgerError):
    """A proof, signature or chain did not verify: evidence, not bad input."""

    status = 422
    code = "verification_failed"
    title = "Verification failed"


class ServiceUnavailable(LedgerError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"
