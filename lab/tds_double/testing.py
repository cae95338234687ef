"""Helpers for tests that run the TDS double in-process.

The certificates come from ``lab.pki``'s own functions (root, intermediate,
a server leaf with DNS and IP names) but live in a test's temp folder, not
in ``lab/.run/``. pytds matches DNS names only, so the leaf must carry one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from lab import pki
from lab.hosts import LabHost
from lab.tds_double.browser import BrowserResponder, Instance
from lab.tds_double.server import PRODUCT_VERSION, DoubleConfig, TdsDouble


@dataclass(frozen=True)
class DoublePki:
    ca: Path
    cert: Path
    key: Path


def make_pki(folder: Path, host: LabHost) -> DoublePki:
    """A root, an intermediate and a leaf for ``host``, written as PEM."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    root = pki.make_root(now)
    intermediate = pki.make_intermediate(root, now)
    leaf = pki.make_server_leaf(host, intermediate, now, host.name)
    pem = serialization.Encoding.PEM
    files = DoublePki(folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key")
    files.ca.write_bytes(root.cert.public_bytes(pem))
    files.cert.write_bytes(
        leaf.cert.public_bytes(pem) + intermediate.cert.public_bytes(pem)
    )
    files.key.write_bytes(
        leaf.key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@contextlib.contextmanager
def running_double(
    host: LabHost,
    files: DoublePki | None,
    *,
    mode: str = "forced",
    user: str = "lab",
    password: str = "lab-password",
    instance: str = "SPHERE",
    port: int = 0,
    tls_min: str = "1.2",
) -> Iterator[TdsDouble]:
    """A double on ``host``'s address (port 0: any free port), stopped after."""
    config = DoubleConfig(
        address=host.address,
        port=port,
        mode=mode,
        user=user,
        password=password,
        instance=instance,
        server_name=host.name.upper(),
        cert=files.cert if files else None,
        key=files.key if files else None,
        tls_min=tls_min,
        databases=("SphereDB",),
    )
    double = TdsDouble(config)
    double.start()
    try:
        yield double
    finally:
        double.stop()


@contextlib.contextmanager
def running_browser(
    host: LabHost, instance: str, tcp_port: int, port: int = 0
) -> Iterator[BrowserResponder]:
    """A Browser stand-in naming ``instance`` on ``tcp_port``, stopped after."""
    version = ".".join(str(n) for n in PRODUCT_VERSION)
    browser = BrowserResponder(
        host.address, port, [Instance(host.name.upper(), instance, version, tcp_port)]
    )
    browser.start()
    try:
        yield browser
    finally:
        browser.stop()
