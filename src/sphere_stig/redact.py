"""One list of secrets for the whole run, applied to everything written out.

Every secret the suite resolves (passwords, SNMP keys) is registered here the
moment it is read. Reports, checklists, logs and evidence pass their text
through :func:`scrub` before it leaves the process.
"""

from __future__ import annotations

import re
import threading

MASK = "********"

_lock = threading.Lock()
_secrets: set[str] = set()

# Values that look like credentials even when the suite never resolved them:
# Tomcat digests in tomcat-users.xml, keystore passwords in server.xml.
_PATTERNS = (
    re.compile(
        r"(?i)(password|keystorePass|certificateKeystorePassword|truststorePass)"
        r"(\s*=\s*)(\"[^\"]*\"|'[^']*')"
    ),
)


def register(secret: str) -> None:
    # Very short values would mask ordinary words all over a report.
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def scrub(text: str) -> str:
    """Text with every registered secret and password attribute masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f'{m.group(1)}{m.group(2)}"{MASK}"', text)
    return text


def clear() -> None:
    """Forget all secrets (tests only)."""
    with _lock:
        _secrets.clear()
