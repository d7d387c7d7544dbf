"""certsmith: an ACME (RFC 8555) client that obtains, renews and guards TLS certificates."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
