"""V-225096: the installed release against the oldest one the vendor supports."""

from __future__ import annotations

import dataclasses

import pytest
from check_facts import facts, windows_facts

from sphere_stig.checks import Inputs
from sphere_stig.checks.lifecycle import sphere_version_supported, version_tuple
from sphere_stig.outcome import Status


def run(installed, minimum="7.4.0"):
    windows = dataclasses.replace(windows_facts(None), sphere_version=installed)
    inputs = Inputs(values={"minimum_sphere_version": minimum})
    return sphere_version_supported(facts(windows=windows), inputs)


@pytest.mark.parametrize(
    ("installed", "minimum", "status"),
    [
        ("7.4.0.123", "7.4.0", Status.PASS),
        ("7.4.0.123", "7.4", Status.PASS),
        ("7.10.2", "7.4.0", Status.PASS),  # numeric, not text, comparison
        ("6.6.1.204", "7.4.0", Status.FAIL),
        ("7.3.9", "7.4", Status.FAIL),
    ],
)
def test_installed_release_is_compared_part_by_part(installed, minimum, status):
    verdict = run(installed, minimum)

    assert verdict.status is status
    (judged,) = [e for e in verdict.evidence if e.ok is not None]
    assert judged.observed == installed
    assert judged.expected.startswith(f"{minimum} or later")


@pytest.mark.parametrize("installed", [None, "", "7.4 beta"])
def test_unreadable_release_is_left_to_the_reviewer(installed):
    verdict = run(installed)
    assert verdict.status is Status.NOT_REVIEWED
    assert "could not be read" in verdict.summary


def test_version_tuple():
    assert version_tuple("7.4.0.123") == (7, 4, 0, 123)
    assert version_tuple("7.4-rc1") is None
