"""Shared fixtures for the catalog tests.

The benchmark and the STIG overview live outside the repository, in the
``shared`` folder next to it (override with ``SPHERE_STIG_SHARED``). Tests
that compare against them skip when they are absent; every other test checks
the catalog on its own.
"""

import copy
import os
from pathlib import Path

import pytest
import yaml

from sphere_stig import catalog

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SPHERE_STIG_SHARED", ROOT.parent / "shared"))
XCCDF = SHARED / "stig" / catalog.BENCHMARK.filename
OVERVIEW = SHARED / "reference" / "isec7-sphere-stig-overview.txt"
RULES_MD = SHARED / "stig" / "RULES.md"
CATALOG_DIR = ROOT / "src" / "sphere_stig" / "catalog"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture
def xccdf_path() -> Path:
    return _need(XCCDF)


@pytest.fixture
def overview_text() -> str:
    return _need(OVERVIEW).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def _documents():
    return {
        f: yaml.safe_load((CATALOG_DIR / f).read_text("utf-8")) for f in catalog.FILES
    }


@pytest.fixture
def documents(_documents):
    """The catalog files as parsed YAML, a private copy each test may change."""
    return copy.deepcopy(_documents)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def reference_texts() -> list[str]:
    """The overview and RULES.md, those of them that are present."""
    return [p.read_text(encoding="utf-8") for p in (OVERVIEW, RULES_MD) if p.is_file()]


@pytest.fixture
def rules_md_text() -> str:
    return _need(RULES_MD).read_text(encoding="utf-8")
