"""Before a run: every secret and file that the selected hosts need is there.

``check_references`` is given what the catalog says each host's tests use
(``evaluate.connections_used`` and ``inputs_used``), so these tests also
show which hosts need which connection.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from sphere_stig import catalog, redact
from sphere_stig.evaluate import connections_used, inputs_used
from sphere_stig.inventory import Inventory, InventoryError, check_references, load

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

SITE = """
site:
  inputs: {dod_trust_anchors: pki/dod.pem}
defaults:
  winrm: {user: scan, password: {env: SPHERE_TEST_WINRM}, ca_bundle: pki/ca.pem}
hosts:
  app01: {address: 10.0.0.1, roles: [sphere_server]}
  app02: {address: 10.0.0.2, roles: [sphere_server]}
  dc01:
    address: 10.0.0.3
    roles: [domain_controller]
    connections:
      ldap: {user: scan, password: {file: secrets/ldap}, ca_bundle: pki/ca.pem}
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The inventory above, with every file it names in place and the variable set."""
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.pem").write_text(PEM)
    (tmp_path / "pki" / "dod.pem").write_text(PEM)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ldap").write_text("ldap-pw-4711\n")
    (tmp_path / "site.yml").write_text(SITE)
    monkeypatch.setenv("SPHERE_TEST_WINRM", "winrm-pw-0815")
    return tmp_path


def loaded(folder: Path, limit: str | None = None) -> Inventory:
    return load("site", folder, catalog.ROLES).limited(limit)


def check(inventory: Inventory) -> None:
    check_references(inventory, connections_used, inputs_used)


def test_a_complete_inventory_passes_and_its_secrets_are_redacted(site):
    check(loaded(site))

    assert redact.scrub("winrm-pw-0815 and ldap-pw-4711") == "******** and ********"


def test_unset_variable_is_named_by_the_key_as_written(site, monkeypatch):
    # Given the WinRM password variable of the defaults is not exported
    monkeypatch.delenv("SPHERE_TEST_WINRM")

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    # Then one line names defaults.winrm.password, the variable, the fix and
    # every host that needs it (not dc01, which is read over LDAP)
    assert str(err.value) == (
        f"{site / 'site.yml'}: key defaults.winrm.password: refers to environment "
        "variable SPHERE_TEST_WINRM, which is not set; export SPHERE_TEST_WINRM "
        "before the run (needed for app01, app02)"
    )


def test_empty_variable_is_said_to_be_empty(site, monkeypatch):
    monkeypatch.setenv("SPHERE_TEST_WINRM", "")

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    assert "SPHERE_TEST_WINRM, which is empty; export SPHERE_TEST_WINRM with the " in (
        str(err.value)
    )


def test_a_host_the_run_leaves_out_needs_nothing(site, monkeypatch):
    # Given the WinRM variable is missing, when the run is limited to the DC
    monkeypatch.delenv("SPHERE_TEST_WINRM")

    # Then nothing is missing: the DC's tests do not use WinRM
    check(loaded(site, "dc01"))


def test_host_override_is_named_under_the_host(site):
    (site / "site.yml").write_text(
        SITE.replace(
            "app02: {address: 10.0.0.2, roles: [sphere_server]}",
            "app02: {address: 10.0.0.2, roles: [sphere_server], connections: "
            "{winrm: {password: {env: SPHERE_TEST_APP02}}}}",
        )
    )

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    assert str(err.value) == (
        f"{site / 'site.yml'}: key hosts.app02.connections.winrm.password: refers "
        "to environment variable SPHERE_TEST_APP02, which is not set; export "
        "SPHERE_TEST_APP02 before the run (needed for app02)"
    )


def test_missing_secret_file_says_what_the_path_is_relative_to(site):
    (site / "secrets" / "ldap").unlink()

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    assert str(err.value) == (
        f"{site / 'site.yml'}: key hosts.dc01.connections.ldap.password: refers to "
        f"file {site / 'secrets' / 'ldap'}, which cannot be read (No such file or "
        "directory); create it or fix the path ('secrets/ldap' is relative to the "
        f"inventory's folder {site}) (needed for dc01)"
    )


def test_empty_secret_file_is_refused(site):
    (site / "secrets" / "ldap").write_text("\n")

    with pytest.raises(InventoryError, match="secrets/ldap, which is empty; put the"):
        check(loaded(site))


def test_missing_ca_bundle_and_trust_anchors_are_named_with_their_paths(site):
    # Given the CA bundle and the DoD trust anchors are gone
    (site / "pki" / "ca.pem").unlink()
    (site / "pki" / "dod.pem").unlink()

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    # Then each is named once, at its key, with the path it was looked for at
    ca, dod = site / "pki" / "ca.pem", site / "pki" / "dod.pem"
    relative = f"is relative to the inventory's folder {site})"
    assert str(err.value).splitlines() == [
        f"{site / 'site.yml'}: key defaults.winrm.ca_bundle: {ca} cannot be read "
        f"(No such file or directory); fix the path or create the file "
        f"('pki/ca.pem' {relative} (needed for app01, app02)",
        f"{site / 'site.yml'}: key site.inputs.dod_trust_anchors: {dod} cannot be "
        f"read (No such file or directory); fix the path or create the file "
        f"('pki/dod.pem' {relative} (needed for app01, app02)",
        f"{site / 'site.yml'}: key hosts.dc01.connections.ldap.ca_bundle: {ca} "
        f"cannot be read (No such file or directory); fix the path or create the "
        f"file ('pki/ca.pem' {relative} (needed for dc01)",
    ]


def test_absolute_path_that_is_not_pem_is_refused_without_a_relative_note(site):
    (site / "site.yml").write_text(
        SITE.replace("dod_trust_anchors: pki/dod.pem", f"dod_trust_anchors: {site}")
    )

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    assert str(err.value) == (
        f"{site / 'site.yml'}: key site.inputs.dod_trust_anchors: {site} cannot be "
        "read (Is a directory); fix the path or create the file (needed for app01, "
        "app02)"
    )


def test_ca_bundle_without_a_certificate_is_refused(site):
    (site / "pki" / "ca.pem").write_text("not a certificate\n")

    with pytest.raises(InventoryError) as err:
        check(loaded(site, "app01"))

    assert str(err.value) == (
        f"{site / 'site.yml'}: key defaults.winrm.ca_bundle: {site / 'pki/ca.pem'} "
        "holds no PEM certificate; name a PEM file of CA certificates ('pki/ca.pem' "
        f"is relative to the inventory's folder {site}) (needed for app01)"
    )


def test_the_secret_value_is_never_in_the_message(site):
    # Given a WinRM secret that resolves and an LDAP secret that does not
    (site / "secrets" / "ldap").unlink()

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    assert "winrm-pw-0815" not in str(err.value)


def test_each_role_uses_the_connections_its_tests_read_through():
    lab = load(
        "lab", Path(__file__).resolve().parents[2] / "inventories", catalog.ROLES
    )

    used = {h.name: connections_used(h) for h in lab.hosts}

    assert used == {
        "sphere01": {"winrm"},
        "sphere02": {"winrm"},
        "dc1": {"ldap"},
        "snmp1": {"snmp"},
        "mail1": set(),
        "win01": {"winrm"},
        "sql1": {"sql"},
    }
    assert "dod_trust_anchors" in inputs_used(lab.host("sphere01"))
    assert inputs_used(lab.host("mail1")) == set()


# Optional packages for WinRM authentication.

# The modules pywinrm needs for each authentication; None in sys.modules
# makes an import fail, whatever the machine running the tests has.
ABSENT = {"kerberos": None, "winkerberos": None, "requests_credssp": None}


@pytest.fixture
def without_auth_packages(monkeypatch):
    for name, module in ABSENT.items():
        monkeypatch.setitem(sys.modules, name, module)


def with_auth(site: Path, auth: str) -> None:
    text = (site / "site.yml").read_text()
    (site / "site.yml").write_text(
        text.replace("{user: scan,", f"{{auth: {auth}, user: scan,", 1)
    )


def test_kerberos_without_its_package_names_key_hosts_and_pip_command(
    site, without_auth_packages
):
    # Given WinRM defaults with Kerberos, on a runner without pykerberos
    with_auth(site, "kerberos")

    # When the references are checked for the whole inventory
    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    # Then one line names the key as written, the command and the hosts
    assert str(err.value) == (
        f"{site / 'site.yml'}: key defaults.winrm.auth: kerberos authentication "
        "needs the optional package pywinrm[kerberos], which is not installed; "
        "run pip install 'pywinrm[kerberos]' in the suite's environment, and give "
        "the runner a Kerberos client configuration (/etc/krb5.conf naming the "
        "hosts' realm and its KDCs) (needed for app01, app02)"
    )


def test_credssp_set_on_one_host_is_named_on_that_host(site, without_auth_packages):
    text = (site / "site.yml").read_text()
    (site / "site.yml").write_text(
        text.replace(
            "app02: {address: 10.0.0.2, roles: [sphere_server]}",
            "app02: {address: 10.0.0.2, roles: [sphere_server], "
            "connections: {winrm: {auth: credssp}}}",
        )
    )

    with pytest.raises(InventoryError) as err:
        check(loaded(site))

    assert str(err.value) == (
        f"{site / 'site.yml'}: key hosts.app02.connections.winrm.auth: credssp "
        "authentication needs the optional package pywinrm[credssp], which is not "
        "installed; run pip install 'pywinrm[credssp]' in the suite's environment "
        "(needed for app02)"
    )


def test_kerberos_is_not_asked_for_a_run_without_winrm_hosts(
    site, without_auth_packages
):
    # The domain controller is read over LDAP only.
    with_auth(site, "kerberos")

    check(loaded(site, "dc01"))


def test_kerberos_with_either_module_installed_passes(site, monkeypatch):
    # winkerberos is what pywinrm uses on a Windows runner.
    with_auth(site, "kerberos")
    monkeypatch.setitem(sys.modules, "kerberos", None)
    monkeypatch.setitem(sys.modules, "winkerberos", types.ModuleType("winkerberos"))

    check(loaded(site))
