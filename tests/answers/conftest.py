"""Shared fixtures for the answers and waivers tests.

Entries name real catalog rules: V-224764, V-224767 and V-225096 are manual,
V-224762 (TLS protocols), V-224781 (webapps) and V-224784 (lockout time) are
checked automatically.
"""

from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def write(tmp_path):
    """Write YAML text to a file in the test's folder and return its path."""

    def _write(text: str, name: str = "site.answers.yml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def today() -> date:
    """The day the lab examples were written against."""
    return date(2026, 12, 3)
