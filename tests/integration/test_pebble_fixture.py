from __future__ import annotations

import json

import pytest
from cryptography import x509

pytestmark = pytest.mark.pebble


def test_pebble_serves_directory_with_ari_and_profiles(pebble) -> None:
    directory = json.loads(pebble.get(pebble.directory_url))
    assert directory["newOrder"].startswith("https://127.0.0.1:")
    root = x509.load_pem_x509_certificate(pebble.roots_pem().encode())
    assert root.subject == root.issuer
