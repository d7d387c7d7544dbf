"""Property tests of every parser of hostile input (issue 11, "Hostile input").

Each parser gets arbitrary and near-valid input from hypothesis; only its documented error may
escape (a ``CertsmithError`` subclass, or the ``ValueError`` family a parser documents).
Examples are bounded so the file runs in a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from certsmith import crypto
from certsmith.acme import messages
from certsmith.acme.errors import ProtocolViolation
from certsmith.errors import CertsmithError, StorageError
from certsmith.preflight import caa_record
from certsmith.storage.accounts import AccountStore, key_from_jwk
from certsmith.storage.renewal_conf import RenewalConf

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# JSON values of any shape, small.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)

_PEM_HEAD, _PEM_TAIL = b"-----BEGIN CERTIFICATE-----\n", b"\n-----END CERTIFICATE-----\n"
pem_like = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda body: _PEM_HEAD + body + _PEM_TAIL, st.binary(max_size=300)),
    st.builds(
        lambda body, n: (_PEM_HEAD + body + _PEM_TAIL) * n,
        st.text(string.ascii_letters + string.digits + "+/=\n", max_size=300).map(str.encode),
        st.integers(1, 3),
    ),
)


@FUZZ
@given(pem_like)
def test_pem_chains_split_without_error_and_load_or_raise_value_error(data: bytes) -> None:
    blocks = crypto.split_pem_chain(data)
    assert all(block.endswith(b"\n") and b"BEGIN CERTIFICATE" in block for block in blocks)
    try:
        certs = crypto.load_certificates(data)
    except ValueError:
        return
    assert len(certs) == len(blocks) >= 1


_CONF_LINES = st.sampled_from(
    [
        "version = 5.8.0",
        "cert = /etc/letsencrypt/live/a/cert.pem",
        "[renewalparams]",
        "[[webroot_map]]",
        "[[[deep]]]",
        "]bad[",
        "[unclosed",
        'key = "quoted',
        "key = 'a', 'b'",
        "key = a, b,",
        "= value",
        "no equals sign",
        "# comment",
        "",
        "  indented = 1",
        'x = """triple',
        "dup = 1",
    ]
)
conf_texts = st.one_of(
    st.text(max_size=300),
    st.lists(_CONF_LINES | st.text(max_size=30), max_size=15).map("\n".join),
)


@FUZZ
@given(conf_texts)
def test_renewal_conf_parse_raises_only_lineage_corrupt(text: str) -> None:
    try:
        conf = RenewalConf.parse(text)
    except CertsmithError as exc:
        assert str(exc)
        return
    # What parses, serialises and parses back to the same text.
    again = RenewalConf.parse(conf.serialize())
    assert again.serialize() == conf.serialize()


_JWK_KEYS = ["kty", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi"]
jwks = st.one_of(
    st.dictionaries(st.sampled_from(_JWK_KEYS), json_values, max_size=8),
    st.fixed_dictionaries(
        {
            "kty": st.sampled_from(["EC", "RSA", "oct", ""]),
            "crv": st.sampled_from(["P-256", "P-384", "P-521", "X"]),
        },
        optional={k: st.text(string.ascii_letters + "-_", max_size=60) for k in _JWK_KEYS[2:]},
    ),
)


@FUZZ
@given(jwks)
def test_key_from_jwk_raises_only_storage_error(jwk: dict[str, Any]) -> None:
    try:
        key_from_jwk(jwk)
    except StorageError as exc:
        assert str(exc)


_ACCOUNT_DIR = "https://127.0.0.1/dir"
file_contents = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.just(b"{" * 5000),  # deep nesting
)


@FUZZ
@given(file_contents, file_contents, st.one_of(st.none(), file_contents))
def test_account_store_load_of_fuzzed_files_raises_only_storage_error(
    tmp_path_factory: pytest.TempPathFactory, key: bytes, regr: bytes, meta: bytes | None
) -> None:
    root = tmp_path_factory.mktemp("accounts")
    store = AccountStore(root)
    folder: Path = store.server_dir(_ACCOUNT_DIR) / "fuzzed"
    folder.mkdir(parents=True)
    (folder / "private_key.json").write_bytes(key)
    (folder / "regr.json").write_bytes(regr)
    if meta is not None:
        (folder / "meta.json").write_bytes(meta)
    try:
        store.load(_ACCOUNT_DIR, "fuzzed")
    except StorageError as exc:
        assert str(exc)


_URL = "https://127.0.0.1/x"
_PARSERS = {
    "directory": lambda raw: messages.Directory.from_json(raw),
    "account": lambda raw: messages.Account.from_json(raw, _URL),
    "order": lambda raw: messages.Order.from_json(raw, _URL),
    "challenge": lambda raw: messages.Challenge.from_json(raw),
    "authorization": lambda raw: messages.Authorization.from_json(raw, _URL),
    "renewal_info": lambda raw: messages.RenewalInfo.from_json(raw),
}
_ACME_KEYS = [
    "status", "identifier", "identifiers", "challenges", "authorizations", "finalize",
    "certificate", "expires", "url", "token", "type", "value", "contact", "orders", "meta",
    "newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo",
    "suggestedWindow", "start", "end", "explanationURL", "wildcard", "error", "validated",
    "profiles", "termsOfService", "externalAccountRequired", "caaIdentities", "profile",
]  # fmt: skip
acme_json = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(_ACME_KEYS), json_values, max_size=10),
)


@pytest.mark.parametrize("kind", sorted(_PARSERS))
@FUZZ
@given(raw=acme_json)
def test_acme_messages_from_json_raise_only_protocol_violation(kind: str, raw: Any) -> None:
    try:
        _PARSERS[kind](raw)
    except ProtocolViolation as exc:
        assert str(exc)


caa_texts = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda flags, tag, value: f"{flags} {tag} {value}",
        st.sampled_from(["0", "128", "256", "-1", "x"]),
        st.sampled_from(["issue", "issuewild", "iodef", "ISSUE", "", "a-b", "x" * 20]),
        st.text(max_size=40),
    ),
)


@FUZZ
@given(caa_texts)
def test_caa_text_parse_raises_only_caa_syntax_error(text: str) -> None:
    try:
        record = caa_record.parse_caa_text(text)
    except caa_record.CaaSyntaxError:
        return
    assert isinstance(caa_record.parse_issue_value(record.value_text), caa_record.IssueValue)


@FUZZ
@given(st.binary(max_size=80), st.text(max_size=60))
def test_caa_wire_parse_raises_only_caa_syntax_error_and_issue_values_never(
    rdata: bytes, issue_value: str
) -> None:
    with contextlib.suppress(caa_record.CaaSyntaxError):
        caa_record.parse_caa_wire(rdata)
    parsed = caa_record.parse_issue_value(issue_value)
    assert isinstance(parsed, caa_record.IssueValue)
