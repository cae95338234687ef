"""One-host inventories for the port-check tests, loaded as the suite loads them."""

from __future__ import annotations

from pathlib import Path

from sphere_stig import catalog, inventory


def one_host(
    folder: Path, name: str, address: str, role: str, fqdn: str | None = None
) -> inventory.Host:
    """``name`` with one role, from an inventory file written in ``folder``."""
    path = folder / "inventory.yml"
    path.write_text(
        f"hosts:\n  {name}:\n    address: {address}\n"
        + (f"    fqdn: {fqdn}\n" if fqdn else "")
        + f"    roles: [{role}]\n"
    )
    return inventory.load(str(path), folder, catalog.load_roles()).host(name)
