"""certsmith's Apache httpd installer and authenticator (``--apache``, ``-i apache``).

``make(options)`` is what ``certsmith.installers.make_installer("apache", options)`` calls; the
options are listed in ``layout``. What it changes and how to undo it: docs/apache.md.
"""

from __future__ import annotations

from certsmith.installers.apache.installer import ApacheInstaller, make

__all__ = ["ApacheInstaller", "make"]
