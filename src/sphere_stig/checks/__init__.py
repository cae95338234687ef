"""Checks: pure functions from facts and inputs to verdicts.

Importing this package registers every check module in ``REGISTRY``.
"""

from sphere_stig.checks import (
    certificate,
    connector,
    console,
    directory,
    lifecycle,
    realm,
    settings,
    shutdown,
    tls,
    users,
    webapp,
    windows,
    wmi,
)
from sphere_stig.checks.base import REGISTRY, Check, Facts, Inputs, register

__all__ = [
    "REGISTRY",
    "Check",
    "Facts",
    "Inputs",
    "certificate",
    "connector",
    "console",
    "directory",
    "lifecycle",
    "realm",
    "register",
    "settings",
    "shutdown",
    "tls",
    "users",
    "webapp",
    "windows",
    "wmi",
]
