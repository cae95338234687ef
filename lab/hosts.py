"""The lab hosts: names, loopback addresses and where their images live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
IMAGES_DIR = LAB_DIR / "images"
RUN_DIR = LAB_DIR / ".run"
DOMAIN = "lab.example"

# Where Sphere sits on the Windows hosts, and where that is in an image.
SPHERE_ROOT_WINDOWS = r"C:\Program Files\ISEC7 SPHERE"
SPHERE_ROOT_IN_IMAGE = Path("fs", "C", "Program Files", "ISEC7 SPHERE")


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    # The drifted host serves a self-signed certificate instead of one from
    # the lab CA, as its image's server.xml (conf/https.pfx) says.
    self_signed_https: bool = False

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DOMAIN}"

    def image(self, images_dir: Path = IMAGES_DIR) -> Path:
        return images_dir / self.name

    def sphere_root(self, images_dir: Path = IMAGES_DIR) -> Path:
        return self.image(images_dir) / SPHERE_ROOT_IN_IMAGE


HOSTS: tuple[LabHost, ...] = (
    LabHost("sphere01", "127.0.0.2"),
    LabHost("sphere02", "127.0.0.12", self_signed_https=True),
)


def host(name: str) -> LabHost:
    for candidate in HOSTS:
        if candidate.name == name:
            return candidate
    known = ", ".join(h.name for h in HOSTS)
    raise KeyError(f"unknown lab host {name!r} (known: {known})")
