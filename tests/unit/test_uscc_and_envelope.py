from __future__ import annotations

import base64
import json

import msgpack
import pytest

from ledger.encoding import decode
from ledger.envelope import DOMAIN, Submission, sign_envelope, signing_message
from ledger.errors import InvalidInput, MissingField, UnknownField, WrongType
from ledger.keys import SignerKey
from ledger.uscc import check_character, complete_uscc, is_valid_uscc, looks_like_uscc


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000100006485K",
                                  complete_uscc("91650500MA77Y0R44")])
def test_valid_credit_codes(code: str) -> None:
    assert is_valid_uscc(code)


def test_every_wrong_check_character_is_refused() -> None:
    body = "91350100M000100Y4"
    right = check_character(body)
    for ch in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        assert is_valid_uscc(body + ch) == (ch == right)


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100Y433",
                                  "91350100M000100I43", "91350100m000100y43"])
def test_malformed_codes(code: str) -> None:
    assert not looks_like_uscc(code)


KEY = SignerKey.from_seed("91350100M000100Y43/finance", bytes(range(32)))


def test_envelope_signature_is_domain_separated() -> None:
    sub = sign_envelope(KEY, "payment.made", "contract/c1", {"x": 1},
                        signed_at="2026-11-25T08:00:00Z", nonce=bytes(16))
    assert KEY.verifier.verify(sub.signature, DOMAIN + sub.envelope_bytes)
    assert not KEY.verifier.verify(sub.signature, sub.envelope_bytes)
    env = decode(sub.envelope_bytes)
    assert env == {"v": 1, "type": "payment.made", "stream": "contract/c1", "body": {"x": 1},
                   "signer": KEY.name, "signed_at": "2026-11-25T08:00:00Z", "nonce": bytes(16)}
    assert signing_message(b"e") == b"commitment-ledger/envelope/v1\ne"


def test_submission_wire_forms_agree() -> None:
    sub = sign_envelope(KEY, "payment.made", "contract/c1", {"x": 1})
    as_json = json.dumps(sub.to_json_map()).encode()
    as_msgpack = msgpack.packb(sub.to_msgpack_map(), use_bin_type=True)
    assert Submission.from_json_bytes(as_json) == sub
    assert Submission.from_msgpack_bytes(as_msgpack) == sub
    assert sub.decode().expect_version is None


@pytest.mark.parametrize(("payload", "error"), [
    (b"{", InvalidInput),
    (b"[]", WrongType),
    (b'{"envelope": "AA=="}', MissingField),
    (b'{"envelope": "AA==", "signature": "AA==", "x": 1}', UnknownField),
    (b'{"envelope": "!!", "signature": "AA=="}', WrongType),
    (b'{"envelope": 5, "signature": "AA=="}', WrongType),
    (json.dumps({"envelope": "AA==", "signature": base64.b64encode(b"x" * 10).decode()}).encode(),
     WrongType),
    (b'{"envelope": NaN, "signature": "AA=="}', InvalidInput),
])
def test_malformed_submissions(payload: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Submission.from_json_bytes(payload)
