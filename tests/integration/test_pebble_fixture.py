from __future__ import annotations

import json

import pytest
from cryptography import x509

pytestmark = pytest.mark.pebble


@pytest.mark.pebble_new
def test_pebble_serves_directory_with_ari_and_profiles(pebble) -> None:
    directory = json.loads(pebble.get(pebble.directory_url))
    assert directory["newOrder"].startswith("https://127.0.0.1:")
    assert "renewalInfo" in directory
    assert "shortlived" in directory.get("meta", {}).get("profiles", {})
    root = x509.load_pem_x509_certificate(pebble.roots_pem().encode())
    assert root.subject == root.issuer
