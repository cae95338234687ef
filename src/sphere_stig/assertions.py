"""The one assertion the user-facing tests make."""

from __future__ import annotations

import pytest

from sphere_stig import redact
from sphere_stig.outcome import Status, Verdict


def assert_compliant(verdict: Verdict) -> None:
    """Fail with the evidence (observed vs expected) unless the rule passed."""
    __tracebackhide__ = True
    if verdict.status is Status.FAIL:
        pytest.fail(redact.scrub(verdict.details()), pytrace=False)
    if verdict.status is not Status.PASS:
        raise AssertionError(f"unexpected verdict in a test body: {verdict.status}")
