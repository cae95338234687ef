"""webapps_minimal (V-224781): only manager and host-manager in Tomcat\\webapps."""

import pytest
from check_facts import HOST, ROOT, by_item, facts, server_xml, windows_facts

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.webapp import webapps_minimal
from sphere_stig.outcome import CheckError, Status

SOURCE = f"{HOST}: {ROOT}\\Tomcat\\webapps"
ITEM = "Tomcat webapps folder"


def run(inputs, entries, server=b"<Server/>", warnings=()):
    given = windows_facts(server, webapps=entries, warnings=warnings)
    return webapps_minimal(facts(given), inputs)


def test_registered_with_windows_facts():
    assert REGISTRY["webapps_minimal"].needs == ("windows",)


def test_manager_apps_only_pass(inputs):
    verdict = run(inputs, ("host-manager", "manager"))

    assert verdict.status is Status.PASS
    line = by_item(verdict, ITEM)
    assert (line.observed, line.source) == ("only host-manager, manager", SOURCE)


@pytest.mark.parametrize(
    "entries",
    [
        ("Manager", "Host-Manager"),
        ("manager", "manager.war", "host-manager.WAR"),
        ("manager",),
        (),
    ],
)
def test_case_wars_and_subsets_pass(entries, inputs):
    assert run(inputs, entries).status is Status.PASS


def test_extras_are_listed(inputs):
    verdict = run(inputs, ("docs", "examples", "host-manager", "manager", "ROOT"))

    assert verdict.status is Status.FAIL
    assert verdict.summary == (
        "Tomcat's webapps folder holds applications that must be removed: extra "
        "entries docs, examples, ROOT (folder holds docs, examples, host-manager, "
        "manager, ROOT)"
    )


def test_war_files_count_by_stem(inputs):
    verdict = run(inputs, ("manager", "sample.war"))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, ITEM).observed.startswith("extra entries sample.war")


def test_absent_folder_deploys_nothing(inputs):
    # Given server.xml where the root says, but no webapps folder
    verdict = run(inputs, None, server=server_xml("hardened.xml"))

    assert verdict.status is Status.PASS
    assert by_item(verdict, ITEM).observed == (
        "the folder does not exist, so no application is deployed from it"
    )


def test_absent_folder_and_server_xml_mean_a_wrong_root(inputs):
    with pytest.raises(CheckError, match="site.sphere_root"):
        run(inputs, None, server=None)


def test_listing_failure_is_an_error(inputs):
    warning = "webapps: Access to the path is denied."

    with pytest.raises(CheckError, match="could not be listed"):
        run(inputs, None, warnings=(warning,))
