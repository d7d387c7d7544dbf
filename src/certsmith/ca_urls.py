"""The well-known ACME directory URLs, named once for every layer (the CLI's fast path too)."""

LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
# Retired in 2021; certbot reads it as LETSENCRYPT (renewal.py _restore_str).
LETSENCRYPT_V1 = "https://acme-v01.api.letsencrypt.org/directory"
