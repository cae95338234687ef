"""Fixtures for the check tests; the fact builders live in check_facts.py."""

import pytest
from check_facts import default_inputs

from sphere_stig.checks import Inputs


@pytest.fixture
def inputs() -> Inputs:
    return default_inputs()
