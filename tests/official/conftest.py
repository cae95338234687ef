"""Shared fixtures for the official-text tests.

The real benchmark lives outside the repository, in the ``shared`` folder next
to it (override with ``SPHERE_STIG_SHARED``); tests that need it skip when it
is absent. Everything else runs on ``data/mini-xccdf.xml``, written for these
tests.
"""

import io
import os
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SPHERE_STIG_SHARED", ROOT.parent / "shared"))
REAL_XCCDF = SHARED / "stig" / "U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml"
MINI_XCCDF = Path(__file__).parent / "data" / "mini-xccdf.xml"


@pytest.fixture
def real_xccdf() -> Path:
    if not REAL_XCCDF.is_file():
        pytest.skip(f"{REAL_XCCDF} is not present")
    return REAL_XCCDF


@pytest.fixture
def mini_xccdf() -> Path:
    return MINI_XCCDF


@pytest.fixture
def mini_text() -> str:
    return MINI_XCCDF.read_text(encoding="utf-8")


@pytest.fixture
def make_zip(tmp_path):
    """Write a zip of ``{member name: bytes}`` and return its path."""

    def _make(members: dict[str, bytes], name: str = "stig.zip") -> Path:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        path = tmp_path / name
        path.write_bytes(buffer.getvalue())
        return path

    return _make
