"""Inventory loading: the hosts, their merged settings and every usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sphere_stig import catalog, redact
from sphere_stig.inventory import Connections, InventoryError, load

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


def test_a_host_written_twice_names_both_lines(tmp_path):
    # Given an inventory whose second sphere-app01 would replace the first
    path = write(
        tmp_path,
        "hosts:\n"
        "  sphere-app01: {address: 10.0.0.1, roles: [sphere_server]}\n"
        "  dc01: {address: 10.0.0.2, roles: [domain_controller]}\n"
        "  sphere-app01: {address: 10.0.0.3, roles: [sphere_server]}\n",
    )

    # When it is loaded
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then the file, the key path and both lines are named
    assert str(err.value) == (
        f"{path}: hosts.sphere-app01 appears twice (lines 2 and 4); keep one"
    )


def test_a_setting_written_twice_in_defaults_is_refused(tmp_path):
    write(
        tmp_path,
        "defaults:\n"
        "  winrm:\n"
        "    auth: ntlm\n"
        "    port: 5986\n"
        "    auth: kerberos\n"
        "hosts:\n"
        "  app01: {address: 10.0.0.1, roles: [sphere_server]}\n",
    )

    with pytest.raises(InventoryError, match=r"defaults\.winrm\.auth appears twice"):
        load("site", tmp_path, ROLES)


def test_anchors_and_merge_keys_are_not_taken_for_repeated_keys(tmp_path):
    # Given two hosts sharing one block through an anchor and a merge key
    write(
        tmp_path,
        "hosts:\n"
        "  app01: &app {address: 10.0.0.1, roles: [sphere_server]}\n"
        "  app02: {<<: *app, address: 10.0.0.2}\n",
    )

    # When it is loaded, the second host overrides only its address
    inventory = load("site", tmp_path, ROLES)

    assert inventory.host("app02").address == "10.0.0.2"
    assert inventory.host("app02").roles == ("sphere_server",)


@pytest.mark.parametrize(
    "address", ["10.20.30.40", "fd00::40", "sphere-app01", "sphere-app01.example.mil"]
)
def test_ip_addresses_and_host_names_are_accepted(tmp_path, address):
    write(
        tmp_path, f"hosts:\n  app01: {{address: '{address}', roles: [sphere_server]}}\n"
    )

    assert load("site", tmp_path, ROLES).host("app01").address == address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            "127.0.0.300",
            "'127.0.0.300' is not a valid IPv4 address; write one such as "
            "10.20.30.40, or a DNS host name",
        ),
        (
            "10.20.30",
            "'10.20.30' is not a valid IPv4 address; write one such as "
            "10.20.30.40, or a DNS host name",
        ),
        (
            "fd00::40::1",
            "'fd00::40::1' is not a valid IPv6 address; write one such as "
            "fd00::40, or a DNS host name",
        ),
        (
            "sphere_app01.example.mil",
            "'sphere_app01.example.mil' is not an IP address or a DNS host name; "
            "a host name is labels of letters, digits and inner hyphens joined by "
            "dots, such as sphere-app01.example.mil",
        ),
        (
            "sphere-app01-.example.mil",
            "'sphere-app01-.example.mil' is not an IP address or a DNS host name; "
            "a host name is labels of letters, digits and inner hyphens joined by "
            "dots, such as sphere-app01.example.mil",
        ),
    ],
)
def test_an_invalid_address_is_refused_at_load(tmp_path, address, expected):
    # Given a host whose address is neither an IP address nor a host name
    path = write(
        tmp_path, f"hosts:\n  app01: {{address: '{address}', roles: [sphere_server]}}\n"
    )

    # When the inventory is loaded
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then the key and what it should hold are named, before any connection
    assert str(err.value) == f"{path}: key hosts.app01.address: {expected}"


@pytest.mark.parametrize(
    ("fqdn", "expected"),
    [
        (
            "10.20.30.40",
            "'10.20.30.40' is an address; fqdn is the host's DNS name, such as "
            "sphere-app01.example.mil (the address goes under address)",
        ),
        ("sphere_app01.example.mil", "is not an IP address or a DNS host name"),
    ],
)
def test_an_fqdn_that_is_no_dns_name_is_refused_at_load(tmp_path, fqdn, expected):
    path = write(
        tmp_path,
        "hosts:\n  app01: {address: 10.20.30.40, "
        f"fqdn: '{fqdn}', roles: [sphere_server]}}\n",
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    assert str(err.value).startswith(f"{path}: key hosts.app01.fqdn: ")
    assert expected in str(err.value)


HOST = "address: 10.0.0.1, roles: [sphere_server]"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "hosts:\n  app01: {address: 10.0.0.1, roles: [sphere_server], "
            "groups: sphere}\n",
            "hosts.app01.groups: should be a list, e.g. [sphere]",
        ),
        (
            "hosts:\n  app01: {address: 10.0.0.1, roles: []}\n",
            "hosts.app01.roles: should not be empty",
        ),
        (
            "hosts: [app01]\n",
            "hosts: should be a mapping of keys, 'key: value' each, not a list or "
            "a single value",
        ),
        (
            "hosts:\n  app01: sphere\n",
            "hosts.app01: should be a mapping of keys; known keys: address, fqdn, "
            "roles, groups, connections, inputs, asset",
        ),
        (
            f"site: {{https_port: https}}\nhosts:\n  app01: {{{HOST}}}\n",
            "site.https_port: should be a whole number, e.g. 443",
        ),
        (
            f"defaults: {{winrm: {{connect_timeout: soon}}}}\n"
            f"hosts:\n  app01: {{{HOST}}}\n",
            "defaults.winrm.connect_timeout: should be a number, e.g. 10 or 2.5",
        ),
        (
            f"defaults: {{ldap: {{use_ssl: maybe}}}}\nhosts:\n  app01: {{{HOST}}}\n",
            "defaults.ldap.use_ssl: should be true or false",
        ),
        (
            f"defaults: {{winrm: {{auth: ntml}}}}\nhosts:\n  app01: {{{HOST}}}\n",
            "defaults.winrm.auth: should be 'ntlm', 'kerberos', 'credssp' or 'basic'",
        ),
        (
            "hosts:\n  app01: {address: 10, roles: [sphere_server]}\n",
            "hosts.app01.address: should be text; put the value in quotes",
        ),
    ],
)
def test_a_value_of_the_wrong_kind_says_what_is_expected(tmp_path, text, said):
    # Given an inventory with a value YAML reads as the wrong kind
    path = write(tmp_path, text)

    # When it is loaded
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then the key path and the expected kind are named in plain words
    assert str(err.value) == f"{path}: key {said}"


@pytest.mark.parametrize(
    "block",
    [
        "winrm: {password: [hunter2-secret]}",
        "snmp: {auth_key: [hunter2-secret]}",
        "snmp: {priv_key: {env: [hunter2-secret]}}",
    ],
)
def test_a_misshapen_secret_is_never_echoed(tmp_path, block):
    write(tmp_path, f"defaults: {{{block}}}\nhosts:\n  app01: {{{HOST}}}\n")

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    assert "hunter2" not in str(err.value)
    assert "Input should" not in str(err.value)


def test_a_secret_that_is_no_reference_says_how_to_write_one(tmp_path):
    path = write(
        tmp_path,
        f"defaults: {{snmp: {{auth_key: [hunter2-secret]}}}}\n"
        f"hosts:\n  app01: {{{HOST}}}\n",
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    assert str(err.value) == (
        f"{path}: key defaults.snmp.auth_key: should be a reference: "
        "{env: VARIABLE} or {file: path/to/secret}"
    )


def test_unknown_role_names_the_key_and_the_known_roles(tmp_path):
    write(tmp_path, "hosts:\n  app01: {address: 10.0.0.1, roles: [sphere_serevr]}\n")
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)
    message = str(err.value)
    assert "hosts.app01.roles" in message and "'sphere_serevr'" in message
    assert "sphere_server" in message


def test_unknown_role_names_the_close_match(tmp_path):
    # Given a host whose roles are a shortened name and a name not close to any
    path = write(
        tmp_path,
        "hosts:\n  app01: {address: 10.0.0.1, roles: [sphere, mailer]}\n",
    )

    # When the inventory is loaded
    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then each unknown role is on its own line, with the close match if any
    known = "known roles: database_server, domain_controller, sphere_server"
    assert str(err.value).splitlines() == [
        f"{path}: key hosts.app01.roles: unknown role 'sphere'; "
        f"did you mean sphere_server? {known}",
        f"{path}: key hosts.app01.roles: unknown role 'mailer'; {known}",
    ]


def test_unknown_key_names_the_close_match_and_the_known_keys(tmp_path):
    # Given a host key with two letters swapped
    path = write(
        tmp_path,
        "hosts:\n  sphere-app01: {address: 10.0.0.1, roles: [sphere_server], fdqn: x}\n",
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then the key, the likely meaning and every key of that level are named
    assert str(err.value) == (
        f"{path}: key hosts.sphere-app01.fdqn: not a known key; did you mean fqdn? "
        "known keys: address, fqdn, roles, groups, connections, inputs, asset"
    )


def test_typo_in_defaults_is_named_where_it_is_written(tmp_path):
    # Given a misspelt WinRM setting under defaults, merged into every host
    path = write(
        tmp_path,
        "defaults:\n  winrm: {conect_timeout: 3}\n"
        "hosts:\n"
        "  app01: {address: 10.0.0.1, roles: [sphere_server]}\n"
        "  app02: {address: 10.0.0.2, roles: [sphere_server]}\n",
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then it is reported once, at defaults.winrm, not under a host
    assert str(err.value) == (
        f"{path}: key defaults.winrm.conect_timeout: not a known key; did you mean "
        "connect_timeout? known keys: scheme, port, auth, user, password, "
        "ca_bundle, validate_certificate, connect_timeout, operation_timeout"
    )


def test_problems_in_a_host_connection_are_named_under_the_host(tmp_path):
    # Given a host override with a bad value, an unknown block and a bad reference
    path = write(
        tmp_path,
        "defaults:\n  winrm: {scheme: https}\n"
        "hosts:\n  app01:\n    address: 10.0.0.1\n    roles: [sphere_server]\n"
        "    connections:\n"
        "      winrm: {scheme: htps, password: {fil: pw}}\n"
        "      winrn: {port: 5986}\n",
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then every problem has its own line, each at its key in the file
    assert str(err.value).splitlines() == [
        f"{path}: key hosts.app01.connections.winrm.scheme: should be "
        "'https' or 'http'",
        f"{path}: key hosts.app01.connections.winrm.password.fil: not a known key; "
        "did you mean file? known keys: env, file",
        f"{path}: key hosts.app01.connections.winrn: not a known key; did you mean "
        "winrm? known keys: winrm, ldap, sql, snmp, tls",
    ]


def test_every_problem_of_the_file_is_reported_one_per_line(tmp_path):
    path = write(
        tmp_path,
        "site: {inptus: {}}\n"
        "hosts:\n  app01: {roles: [sphere_server], fqdn: app01.example.mil}\n",
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    assert str(err.value).splitlines() == [
        f"{path}: key site.inptus: not a known key; did you mean inputs? "
        "known keys: sphere_root, https_port, inputs",
        f"{path}: key hosts.app01.address: missing; add it",
    ]


# Organisation inputs.


def test_unknown_site_input_is_named_with_the_close_match(tmp_path):
    # Given a site input one letter short
    path = write(
        tmp_path,
        MINIMAL.replace("inputs: {max_threads: 150}", "inputs: {max_thread: 150}"),
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    # Then the run stops at it instead of leaving the rule "input not set"
    message = str(err.value)
    assert message.startswith(
        f"{path}: key site.inputs.max_thread: not a known input; did you mean "
        "max_threads? known inputs: max_connections, max_threads, "
    )
    assert message.endswith("(inputs: in src/sphere_stig/catalog/rules.yml)")
    assert set(catalog.load_inputs()) <= set(
        message.split("known inputs: ")[1].split(" (")[0].split(", ")
    )


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "max_threads: lots",
            "site.inputs.max_threads: should be a whole number above 0, not 'lots'",
        ),
        (
            "minimum_sphere_version: 7.4",
            "site.inputs.minimum_sphere_version: should be a version in quotes, such as '7.4.0', not 7.4",
        ),
        (
            "blackberry_dynamics_monitoring: 'yes'",
            "site.inputs.blackberry_dynamics_monitoring: should be true or false, not 'yes'",
        ),
        (
            "max_threads: -5",
            "site.inputs.max_threads: should be a whole number above 0, not -5",
        ),
        (
            "max_threads: ",
            "site.inputs.max_threads: should be a whole number above 0, not an "
            "empty value",
        ),
        (
            "server_xml_acl_allowed: []",
            "site.inputs.server_xml_acl_allowed: should be a non-empty list of names, not []",
        ),
    ],
)
def test_input_of_the_wrong_type_is_named_with_what_it_should_be(
    tmp_path, written, said
):
    write(
        tmp_path,
        MINIMAL.replace("inputs: {max_threads: 150}", f"inputs: {{{written}}}"),
    )

    with pytest.raises(InventoryError, match="should be") as err:
        load("site", tmp_path, ROLES)

    assert f"key {said}; see its description" in str(err.value)


def test_unknown_host_input_is_named(tmp_path):
    path = write(
        tmp_path,
        MINIMAL.replace(
            "inputs: {max_threads: 100}", "inputs: {console_path: /sphere}"
        ),
    )

    with pytest.raises(InventoryError) as err:
        load("site", tmp_path, ROLES)

    assert str(err.value).startswith(
        f"{path}: key hosts.app01.inputs.console_path: not a known input; did you "
        "mean console_login_path? known inputs: "
    )


def test_known_inputs_can_be_given(tmp_path):
    write(tmp_path, MINIMAL)

    with pytest.raises(
        InventoryError,
        match="max_threads: not a known input; known inputs: max_sessions",
    ):
        load("site", tmp_path, ROLES, known_inputs=["max_sessions"])


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
    app = inventory.host("app01")
    ref = app.connections.winrm.password
    key = app.origin("connections.winrm.password").key

    monkeypatch.delenv("SPHERE_TEST_PW", raising=False)
    with pytest.raises(InventoryError) as err:
        ref.resolve("app01", key)
    assert str(err.value) == (
        "app01: defaults.winrm.password refers to environment variable "
        "SPHERE_TEST_PW, which is not set; export SPHERE_TEST_PW before the run"
    )

    monkeypatch.setenv("SPHERE_TEST_PW", "s3cret-value")
    assert ref.resolve("app01", key) == "s3cret-value"
    assert (
        redact.scrub("login with s3cret-value failed") == "login with ******** failed"
    )


def test_commented_template_is_a_clear_error():
    with pytest.raises(InventoryError, match="all commented out"):
        load("prod", REPO / "inventories", ROLES)


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_templates_load_once_uncommented(tmp_path, name):
    # Given a shipped template with its settings uncommented, as a site would
    text = (REPO / "inventories" / f"{name}.yml").read_text(encoding="utf-8")
    body = text[text.index("# name:") :].splitlines()
    write(
        tmp_path,
        "\n".join(line[2:] if line.startswith("# ") else "" for line in body),
        f"{name}.yml",
    )

    # Then every key and input it shows is one the suite knows
    inventory = load(name, tmp_path, catalog.ROLES)
    assert inventory.host("sphere-app01").inputs["max_threads"] == 150


def test_prod_template_shows_every_input_and_connection_key():
    text = (REPO / "inventories" / "prod.yml").read_text(encoding="utf-8")
    body = text[text.index("# name:") :].splitlines()
    data = yaml.safe_load(
        "\n".join(line[2:] if line.startswith("# ") else "" for line in body)
    )

    assert set(data["site"]["inputs"]) == set(catalog.load_inputs())
    for block, field in Connections.model_fields.items():
        model = field.annotation
        shown = set(data["defaults"][block])
        # instance is per host (a named SQL Server instance), shown there
        expected = set(model.model_fields) - {"instance"}
        assert shown == expected, block
    assert {"answers", "waivers"} <= set(data)


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
