"""Inventory loading: the hosts, their merged settings and every usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sphere_stig import catalog, redact
from sphere_stig.inventory import InventoryError, load

ROLES = {"sphere_server", "domain_controller", "database_server"}
REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "site.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
site:
  inputs: {max_threads: 150}
defaults:
  winrm: {auth: kerberos, user: 'EX\\\\scan', password: {env: SPHERE_TEST_PW}, ca_bundle: pki/ca.pem}
hosts:
  app01:
    address: 10.0.0.1
    fqdn: app01.example.mil
    roles: [sphere_server]
    groups: [prod, sphere]
    connections:
      winrm: {connect_timeout: 3}
    inputs: {max_threads: 100}
  dc01:
    address: 10.0.0.2
    roles: [domain_controller]
    groups: [prod]
"""


def test_host_settings_merge_defaults_site_and_host(tmp_path):
    # Given an inventory with site defaults and a host override
    path = write(tmp_path, MINIMAL)

    # When it is loaded by name from its folder
    inventory = load("site", tmp_path, ROLES)

    # Then the host sees the defaults, its own override and rebased paths
    app = inventory.host("app01")
    assert inventory.name == "site"
    assert app.connections.winrm.auth == "kerberos"
    assert app.connections.winrm.connect_timeout == 3
    assert app.connections.winrm.effective_port == 5986
    assert app.connections.winrm.ca_bundle == (tmp_path / "pki/ca.pem").resolve()
    assert app.inputs == {"max_threads": 100}
    assert inventory.host("dc01").inputs == {"max_threads": 150}
    assert inventory.host("dc01").fqdn == "dc01"
    assert path.exists()


def test_limit_matches_host_names_and_groups(tmp_path):
    write(tmp_path, MINIMAL)
    inventory = load("site", tmp_path, ROLES)

    assert [h.name for h in inventory.limited("dc*").hosts] == ["dc01"]
    assert [h.name for h in inventory.limited("sphere").hosts] == ["app01"]
    assert [h.name for h in inventory.limited("prod").hosts] == ["app01", "dc01"]
    with pytest.raises(InventoryError, match="matches no host; hosts: app01, dc01"):
        inventory.limited("nothing*")


def test_unknown_inventory_lists_the_ones_that_exist(tmp_path):
    write(tmp_path, MINIMAL, "prod.yml")
    write(tmp_path, MINIMAL, "lab.yml")
    with pytest.raises(InventoryError) as err:
        load("prdo", tmp_path, ROLES)
    assert "unknown inventory 'prdo'" in str(err.value)
    assert "lab, prod" in str(err.value)


def test_broken_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "hosts:\n  app01: [unclosed\n")
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)
    assert str(path) in str(err.value)
    assert "line " in str(err.value) and "not valid YAML" in str(err.value)


def test_unknown_role_names_the_key_and_the_known_roles(tmp_path):
    write(tmp_path, "hosts:\n  app01: {address: 10.0.0.1, roles: [sphere_serevr]}\n")
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)
    message = str(err.value)
    assert "hosts.app01.roles" in message and "'sphere_serevr'" in message
    assert "sphere_server" in message


def test_unknown_key_is_named(tmp_path):
    write(
        tmp_path,
        "hosts:\n  app01: {address: 10.0.0.1, roles: [sphere_server], adress: x}\n",
    )
    with pytest.raises(InventoryError, match=r"key hosts\.app01\.adress: Extra inputs"):
        load("site", tmp_path, ROLES)


def test_literal_password_is_refused(tmp_path):
    write(
        tmp_path,
        "defaults:\n  winrm: {password: 'hunter2'}\n"
        "hosts:\n  app01: {address: 10.0.0.1, roles: [sphere_server]}\n",
    )
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)
    assert "credentials are references" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_secret_reference_resolves_and_is_redacted(tmp_path, monkeypatch):
    write(tmp_path, MINIMAL)
    inventory = load("site", tmp_path, ROLES)
    ref = inventory.host("app01").connections.winrm.password

    monkeypatch.delenv("SPHERE_TEST_PW", raising=False)
    with pytest.raises(InventoryError, match="SPHERE_TEST_PW, which is not set"):
        ref.resolve("app01", "connections.winrm.password")

    monkeypatch.setenv("SPHERE_TEST_PW", "s3cret-value")
    assert ref.resolve("app01", "connections.winrm.password") == "s3cret-value"
    assert (
        redact.scrub("login with s3cret-value failed") == "login with ******** failed"
    )


def test_commented_template_is_a_clear_error():
    with pytest.raises(InventoryError, match="all commented out"):
        load("prod", REPO / "inventories", ROLES)


def test_shipped_lab_inventory_loads():
    inventory = load("lab", REPO / "inventories", catalog.ROLES)
    # The Sphere servers first; the lab services' hosts follow.
    assert [h.name for h in inventory.hosts][:2] == ["sphere01", "sphere02"]
    assert inventory.host("sphere01").connections.winrm.scheme == "https"


def test_lab_win01_takes_winrm_from_the_defaults():
    # Given the shipped lab inventory, when win01 is read, then it is a
    # monitored Windows server reached like the Sphere hosts over WinRM
    inventory = load("lab", REPO / "inventories", catalog.ROLES)
    win01 = inventory.host("win01")

    assert win01.roles == ("windows_server",)
    assert win01.address == "127.0.0.13"
    assert win01.connections.winrm == inventory.host("sphere01").connections.winrm
    assert win01.inputs["wmi_agent_account"] == "LAB\\svc-sphere-wmi"
