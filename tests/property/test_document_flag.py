"""The cheap test that lets a fold skip the document walk never skips a document."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import encoding
from ledger.application import encode_leaf, logged_event
from projections.documents import named_documents

DIGEST = "ab" * 32
keys = st.one_of(st.sampled_from(["document_sha256", "x_sha256", "sha256", "amount_fen",
                                  "note", "_sha256"]),
                 st.text(min_size=1, max_size=12))
values: Any = st.recursive(
    st.one_of(st.just(DIGEST), st.integers(0, 10**6), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=5))
def test_a_body_that_names_a_document_is_always_walked(body: dict[str, Any]) -> None:
    envelope = encoding.encode({"v": 1, "type": "x.y", "stream": "contract/C-1", "body": body,
                                "signer": "a/b", "signed_at": "2026-01-01T00:00:00Z",
                                "nonce": bytes(16)})
    leaf = encode_leaf("contract/C-1", 1, "x.y", "2026-01-01T00:00:00Z", envelope,
                       bytes(64), None)
    event = logged_event(0, leaf)
    if named_documents(event.body):
        assert event.may_name_documents
    if not any("_sha256" in key for key in _all_keys(body)):
        assert not event.may_name_documents or "_sha256" in repr(body)


def _all_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _all_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _all_keys(v)]
    return []
