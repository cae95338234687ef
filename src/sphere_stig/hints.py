"""Hints for a name the user got wrong: the close match, and every known name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str], what: str) -> str:
    """``did you mean fqdn? known keys: address, fqdn, ...``

    The question comes only when a known name is close; case does not count,
    so ``FQDN`` still finds ``fqdn``.
    """
    names = list(known)
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    question = f"did you mean {by_lower[close[0]]}? " if close else ""
    return f"{question}{what}: {', '.join(names) or '(none)'}"
