"""A wrong inventory, answers or waivers file stops the run before any test.

Each test writes a faulty file into the pytester project of conftest.py and
runs the suite on it as a user would: pytest exits with a usage error (4)
whose message names the file, the key and the fix.
"""

from __future__ import annotations

import pytest

from tests.plugin.conftest import results, run

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

# Two Sphere servers reached over WinRM and a DC read over LDAP; the
# credentials come from defaults, as in a real site inventory.
SITE = """
name: site
site:
  inputs: {max_connections: 100, max_threads: 50}
defaults:
  winrm: {user: scan, password: {env: SPHERE_PLUGIN_TEST_PW}, ca_bundle: ca.pem}
hosts:
  good01: {address: 127.0.0.61, roles: [sphere_server], groups: [blue]}
  bad01: {address: 127.0.0.62, roles: [sphere_server], groups: [red]}
  dc01: {address: 127.0.0.64, roles: [domain_controller], groups: [directory]}
"""

ANSWER = """
  - rule: V-224767
    hosts: [{hosts}]
    status: NotAFinding
    explanation: Admin login is disabled
    reviewer: A. Reviewer
    date: 2026-01-01
    expires: 2099-01-01
    evidence: CHG-1
"""


@pytest.fixture
def site(project, monkeypatch):
    """The project with the inventory above, its CA file and its variable."""
    inventories = project.path / "inventories"
    (inventories / "site.yml").write_text(SITE)
    (inventories / "ca.pem").write_text(PEM)
    monkeypatch.setenv("SPHERE_PLUGIN_TEST_PW", "plugin-pw-2718")
    return project


def usage_error(result) -> str:
    """The usage error's text, after checking that no test ran."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str()
    assert "passed" not in out and "failed" not in out and " error" not in out
    return result.stderr.str()


def test_misspelt_input_is_a_usage_error_with_the_close_match(project):
    # Given an inventory whose site input lacks a letter
    path = project.path / "inventories" / "typo.yml"
    path.write_text(
        "site:\n  inputs: {max_thread: 50}\n"
        "hosts:\n  a: {address: 127.0.0.61, roles: [sphere_server]}\n"
    )

    # When the suite runs on it
    err = usage_error(run(project, "--inventory", "typo"))

    # Then the file, the key and the input meant are named
    assert (
        f"inventory error: {path}: key site.inputs.max_thread: not a known input; "
        "did you mean max_threads? known inputs: " in err
    )


def test_a_host_written_twice_is_a_usage_error(project):
    # Given an inventory that names good01 twice
    path = project.path / "inventories" / "twice.yml"
    path.write_text(
        "hosts:\n"
        "  good01: {address: 127.0.0.61, roles: [sphere_server]}\n"
        "  good01: {address: 127.0.0.62, roles: [sphere_server]}\n"
    )

    # When the suite runs on it, no test runs and both lines are named
    err = usage_error(run(project, "--inventory", "twice"))

    assert f"inventory error: {path}: hosts.good01 appears twice (lines 2 and 3)" in err


def test_misspelt_key_in_defaults_is_named_where_it_is_written(project):
    path = project.path / "inventories" / "typo.yml"
    path.write_text(
        "defaults:\n  winrm: {conect_timeout: 3}\n"
        "hosts:\n  a: {address: 127.0.0.61, roles: [sphere_server]}\n"
    )

    err = usage_error(run(project, "--inventory", "typo"))

    assert f"{path}: key defaults.winrm.conect_timeout: not a known key; " in err
    assert "did you mean connect_timeout? known keys: scheme, port," in err
    assert "hosts.a" not in err


def test_unset_credential_variable_stops_the_run_before_any_test(site, monkeypatch):
    # Given the WinRM password variable is not exported
    monkeypatch.delenv("SPHERE_PLUGIN_TEST_PW")

    err = usage_error(run(site, "--inventory", "site", "-m", "stig"))

    # Then the key as written in the file, the variable and the fix are named
    path = site.path / "inventories" / "site.yml"
    assert (
        f"{path}: key defaults.winrm.password: refers to environment variable "
        "SPHERE_PLUGIN_TEST_PW, which is not set; export SPHERE_PLUGIN_TEST_PW "
        "before the run (needed for good01, bad01)"
    ) in err


def test_empty_credential_variable_is_said_to_be_empty(site, monkeypatch):
    monkeypatch.setenv("SPHERE_PLUGIN_TEST_PW", "")

    err = usage_error(run(site, "--inventory", "site"))

    assert "SPHERE_PLUGIN_TEST_PW, which is empty;" in err


def test_a_run_limited_to_hosts_without_winrm_does_not_need_its_password(
    site, monkeypatch
):
    # Given the WinRM password is missing, when only the DC is checked
    monkeypatch.delenv("SPHERE_PLUGIN_TEST_PW")

    result = run(site, "--inventory", "site", "--limit", "directory", "--co", "-q")

    # Then the run goes ahead: the DC's tests do not use WinRM
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    assert any("-dc01]" in line for line in result.outlines)


def test_kerberos_without_its_package_stops_the_run_before_any_test(site):
    # Given Kerberos for WinRM, on a runner where pywinrm cannot import it
    # (None in sys.modules, set by the project's conftest, fails the import)
    inventory = site.path / "inventories" / "site.yml"
    inventory.write_text(
        inventory.read_text().replace("{user: scan,", "{auth: kerberos, user: scan,")
    )
    conftest = site.path / "conftest.py"
    conftest.write_text(
        conftest.read_text()
        + "\nimport sys\nsys.modules.update(kerberos=None, winkerberos=None)\n"
    )

    # When the Sphere servers are checked
    err = usage_error(run(site, "--inventory", "site", "-m", "stig"))

    # Then the key, the pip command and the hosts are named, once
    assert (
        f"inventory error: {inventory}: key defaults.winrm.auth: kerberos "
        "authentication needs the optional package pywinrm[kerberos], which is not "
        "installed; run pip install 'pywinrm[kerberos]' in the suite's environment"
    ) in err
    assert "(needed for good01, bad01)" in err
    assert err.count("pywinrm[kerberos]") == 2


def test_missing_ca_bundle_is_a_usage_error_naming_key_and_path(site):
    (site.path / "inventories" / "ca.pem").unlink()

    err = usage_error(run(site, "--inventory", "site", "--limit", "blue"))

    folder = site.path / "inventories"
    assert (
        f"{folder / 'site.yml'}: key defaults.winrm.ca_bundle: {folder / 'ca.pem'} "
        "cannot be read (No such file or directory); fix the path or create the "
        f"file ('ca.pem' is relative to the inventory's folder {folder}) (needed "
        "for good01)"
    ) in err


def test_inventory_error_during_a_test_is_reported_as_itself(project):
    # Given a host whose facts fail on the inventory (a CA file gone mid-run)
    project.makeconftest(
        (project.path / "conftest.py").read_text()
        + """

from sphere_stig.inventory import InventoryError


class BrokenCache(Cache):
    def _gather_windows(self, host):
        if host.name == "bad01":
            raise InventoryError(
                "bad01: defaults.winrm.ca_bundle /gone/ca.pem cannot be used; "
                "fix the path"
            )
        return super()._gather_windows(host)


@pytest.fixture(scope="session")
def facts(winrm):
    return BrokenCache(winrm)
"""
    )

    run(project, "--inventory", "t", "-k", "V-224782")

    # Then its message is the reason, not an "internal error"
    bad = results(project)[("V-224782", "bad01")]
    assert bad["status"] == "error"
    assert bad["summary"] == (
        "bad01: defaults.winrm.ca_bundle /gone/ca.pem cannot be used; fix the path"
    )


def test_answer_for_a_host_not_in_the_inventory_is_a_usage_error(project, tmp_path):
    # Given an answer whose host name has a typo, in a run limited to good01
    answers = tmp_path / "site.answers.yml"
    answers.write_text("answers:" + ANSWER.format(hosts="bad1"))

    err = usage_error(
        run(project, "--inventory", "t", "--limit", "blue", f"--answers={answers}")
    )

    # Then the entry is named, with every host of the inventory, not only good01
    assert (
        f"{answers}: answers[0] (V-224767): key hosts: 'bad1' matches no host of "
        "the inventory; did you mean bad01? hosts: good01, bad01, down01; fix the "
        "name or remove it"
    ) in err


def test_answer_for_a_host_outside_the_limit_is_accepted(project, tmp_path):
    answers = tmp_path / "site.answers.yml"
    answers.write_text("answers:" + ANSWER.format(hosts="bad01"))

    result = run(
        project, "--inventory", "t", "--limit", "blue", f"--answers={answers}", "--co"
    )

    assert result.ret == pytest.ExitCode.OK, result.stderr.str()


def test_every_problem_of_a_waivers_file_is_listed(project, tmp_path):
    # Given a waivers file with a typo in one entry and a missing key in another
    waivers = tmp_path / "site.waivers.yml"
    waivers.write_text(
        "waivers:\n"
        "  - {rule: V-224781, hosts: [good1], justification: j, approver: a,\n"
        "     ticket: 1, granted: 2026-01-01, expires: 2099-01-01}\n"
        "  - {rule: V-224784, justification: j, approver: a,\n"
        "     granted: 2026-01-01, expires: 2099-01-01}\n"
    )

    err = usage_error(run(project, "--inventory", "t", f"--waivers={waivers}"))

    # Then both are reported, each on its own line
    lines = [line for line in err.splitlines() if str(waivers) in line]
    assert len(lines) == 2
    assert "waivers[0] (V-224781): key hosts: 'good1' matches no host" in lines[0]
    assert lines[1].endswith("waivers[1] (V-224784): key ticket: missing; add it")
