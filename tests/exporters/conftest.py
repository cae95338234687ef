"""Fixtures for the exporter tests: the sample run of ``sample_run.py``."""

from __future__ import annotations

import pytest
from sample_run import SECRET, all_results, make_assets, make_meta, make_official

from sphere_stig import redact


@pytest.fixture(autouse=True)
def secret_registered():
    redact.register(SECRET)
    yield
    redact.clear()


@pytest.fixture
def results():
    return all_results()


@pytest.fixture
def assets():
    return make_assets()


@pytest.fixture
def official():
    return make_official()


@pytest.fixture
def meta():
    return make_meta()
