"""dod_roots_installed (V-224768), windows_root_truststore (V-224771) and
server_xml_acl (V-224790): the rules judged on non-file Windows facts."""

import pytest
from check_facts import (
    HOST,
    PROCRUN_KEY,
    ROOT,
    SERVER_XML_PATH,
    by_item,
    facts,
    server_xml,
    tomcat_service,
    windows_facts,
)

from sphere_stig.checks import REGISTRY, Inputs
from sphere_stig.checks.windows import (
    common_names,
    dod_roots_installed,
    server_xml_acl,
    windows_root_truststore,
)
from sphere_stig.facts import AclEntry, StoreCertificate
from sphere_stig.outcome import CheckError, Status

DOD_SUFFIX = ", OU=PKI, OU=DoD, O=U.S. Government, C=US"
OPTION = "-Djavax.net.ssl.trustStoreType=Windows-ROOT"
ALLOWED = ["NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators", "LAB\\svc-sphere"]


def root(
    cn: str,
    not_after="2029-12-30T18:46:41Z",
    thumbprint="D73CA91102A2204A36459ED32213B467D7CE97FB",
):
    subject = f"CN={cn}{DOD_SUFFIX}"
    return StoreCertificate(subject, subject, thumbprint, not_after)


def with_input(name: str, value) -> Inputs:
    return Inputs(sphere_root=ROOT, values={name: value})


@pytest.mark.parametrize(
    "name", ["dod_roots_installed", "windows_root_truststore", "server_xml_acl"]
)
def test_registered_with_windows_facts(name):
    assert REGISTRY[name].needs == ("windows",)


# -- dod_roots_installed -------------------------------------------------------


def roots(required, *store, warnings=()):
    given = windows_facts(None, root_store=store, warnings=warnings)
    return dod_roots_installed(facts(given), with_input("required_dod_roots", required))


def test_required_roots_present_pass():
    verdict = roots(
        ["DoD Root CA 3", "DoD Root CA 6"], root("DoD Root CA 3"), root("DoD Root CA 6")
    )

    assert verdict.status is Status.PASS
    line = by_item(verdict, '"DoD Root CA 3"')
    assert (line.observed, line.source) == (
        "present: thumbprint D73CA91102A2204A36459ED32213B467D7CE97FB, valid until "
        "2029-12-30",
        f"{HOST}: Cert:\\LocalMachine\\Root",
    )


def test_missing_root_fails():
    verdict = roots(["DoD Root CA 3", "DoD Root CA 5"], root("DoD Root CA 3"))

    assert verdict.status is Status.FAIL
    assert verdict.summary == (
        "Required DoD root CAs are missing or expired: "
        "CN=DoD Root CA 5 is not in the store"
    )
    assert by_item(verdict, '"DoD Root CA 5"').ok is False


def test_cn_must_match_exactly_but_not_case():
    # A longer name is another CA; case is not significant.
    verdict = roots(
        ["DoD Root CA 3", "dod root ca 6"],
        root("DoD Root CA 3 (LAB ONLY - NOT DOD)"),
        root("DoD Root CA 6"),
    )

    assert by_item(verdict, '"DoD Root CA 3"').ok is False
    assert by_item(verdict, '"dod root ca 6"').ok is True


def test_expired_root_fails_unless_a_valid_copy_exists():
    old = root(
        "DoD Root CA 2",
        "2020-12-05T15:49:11Z",
        "8C941B34EA1EA6ED9AE2BC54CF687252B4C9B561",
    )

    assert roots(["DoD Root CA 2"], old).status is Status.FAIL
    assert by_item(roots(["DoD Root CA 2"], old), "Root CA 2").observed == (
        "CN=DoD Root CA 2 present but expired: thumbprint "
        "8C941B34EA1EA6ED9AE2BC54CF687252B4C9B561, expired on 2020-12-05"
    )
    assert roots(["DoD Root CA 2"], old, root("DoD Root CA 2")).status is Status.PASS


def test_quoted_subject_values():
    subject = 'CN="Root, Test", S=Virginia, OU=PKI, O=U.S. Government, C=US'

    assert common_names(subject) == ["Root, Test"]
    assert common_names('CN="say ""hi""", O=x') == ['say "hi"']


def test_single_name_input_and_missing_input():
    assert roots("DoD Root CA 3", root("DoD Root CA 3")).status is Status.PASS
    assert roots([], root("DoD Root CA 3")).status is Status.NOT_REVIEWED


def test_store_listing_failure_is_an_error():
    with pytest.raises(CheckError, match="could not list the store"):
        roots(["DoD Root CA 3"], warnings=("root_store: Access is denied.",))


# -- windows_root_truststore ---------------------------------------------------


def truststore(inputs, service="default", options=(), warnings=()):
    if service == "default":
        service = tomcat_service(options)
    given = windows_facts(None, service=service, warnings=warnings)
    return windows_root_truststore(facts(given), inputs)


def test_option_present_passes(inputs):
    verdict = truststore(
        inputs, options=("-Dfile.encoding=UTF-8", OPTION, "--add-opens=x")
    )

    assert verdict.status is Status.PASS
    line = by_item(verdict, "trust store type")
    assert (line.observed, line.source) == (
        f"{OPTION} is set",
        f"{HOST}: registry {PROCRUN_KEY} (Options, Options9)",
    )
    assert by_item(verdict, "Tomcat service").observed == (
        "ISEC7SphereWeb (ISEC7 SPHERE Web), Running"
    )


def test_option_missing_fails(inputs):
    verdict = truststore(inputs, options=("-Dfile.encoding=UTF-8",))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "trust store type").observed == (
        "no -Djavax.net.ssl.trustStoreType option among the 1 Java options, so the "
        "JVM keeps its default trust store type (its own cacerts file, not the "
        "Windows root store)"
    )


def test_later_option_overrides(inputs):
    verdict = truststore(inputs, options=(OPTION, "-Djavax.net.ssl.trustStoreType=JKS"))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "trust store type").observed == (
        "-Djavax.net.ssl.trustStoreType=JKS is the option in effect; 2 options set "
        "the property and the JVM keeps the last"
    )


@pytest.mark.parametrize(
    "option",
    [
        "-Djavax.net.ssl.trustStoreType=windows-root",
        "-Djavax.net.ssl.trustStoreType=Windows-ROOT ",
        "-Djavax.net.ssl.truststoretype=Windows-ROOT",
    ],
)
def test_option_must_read_exactly(option, inputs):
    assert truststore(inputs, options=(option,)).status is Status.FAIL


def test_no_service_is_a_finding_when_the_collector_says_so(inputs):
    warning = f"tomcat_service: no service runs from {ROOT}\\Tomcat\\bin\\"

    verdict = truststore(inputs, service=None, warnings=(warning,))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "Tomcat service").observed == (
        f"no Tomcat service found under {ROOT}\\Tomcat\\bin"
    )


def test_failed_service_lookup_is_an_error(inputs):
    with pytest.raises(CheckError, match="could not look up the Tomcat service"):
        truststore(inputs, service=None, warnings=("tomcat_service: Access denied",))
    with pytest.raises(CheckError, match="no service and no reason given"):
        truststore(inputs, service=None)


def test_service_without_procrun_key_is_an_error(inputs):
    service = tomcat_service((OPTION,), registry_key="")

    with pytest.raises(CheckError, match="no Procrun Java key"):
        truststore(inputs, service=service)


def test_several_services_are_noted(inputs):
    warning = "tomcat_service: several services run from x: A, B"

    verdict = truststore(inputs, options=(OPTION,), warnings=(warning,))

    assert verdict.status is Status.PASS
    assert by_item(verdict, "lookup").observed == warning


# -- server_xml_acl ------------------------------------------------------------


def ace(identity, rights="FullControl", access="Allow", inherited=False):
    return AclEntry(identity, rights, access, inherited)


def acl(entries, allowed=ALLOWED, server=b"<Server/>", warnings=()):
    given = windows_facts(server, acl=entries, warnings=warnings)
    return server_xml_acl(facts(given), with_input("server_xml_acl_allowed", allowed))


def test_allowed_accounts_pass():
    verdict = acl(
        (
            ace("NT AUTHORITY\\SYSTEM"),
            ace("BUILTIN\\Administrators"),
            ace("lab\\SVC-SPHERE", "ReadAndExecute, Synchronize"),
        )
    )

    assert verdict.status is Status.PASS
    line = by_item(verdict, "lab\\SVC-SPHERE")
    assert (line.observed, line.source) == (
        "lab\\SVC-SPHERE: Allow ReadAndExecute, Synchronize (explicit): approved in "
        "server_xml_acl_allowed",
        f"{HOST}: ACL of {SERVER_XML_PATH} (Get-Acl, inherited entries included)",
    )


def test_unlisted_account_fails():
    verdict = acl(
        (ace("NT AUTHORITY\\SYSTEM"), ace("LAB\\helpdesk", "Modify", inherited=True))
    )

    assert verdict.status is Status.FAIL
    assert verdict.summary == (
        "Accounts beyond the approved ones hold rights on server.xml: LAB\\helpdesk: "
        "Allow Modify (inherited): not in server_xml_acl_allowed"
    )


@pytest.mark.parametrize(
    "identity",
    [
        "Everyone",
        "BUILTIN\\Users",
        "NT AUTHORITY\\Authenticated Users",
        "NT AUTHORITY\\INTERACTIVE",
        "Users",
        "S-1-1-0",
        "LAB\\Domain Users",
    ],
)
def test_broad_groups_fail_even_when_listed(identity):
    verdict = acl((ace(identity, "ReadAndExecute"),), allowed=[*ALLOWED, identity])

    assert verdict.status is Status.FAIL
    assert by_item(verdict, identity).observed.endswith(
        "a group that reaches every user, so a finding even though "
        "server_xml_acl_allowed lists it"
    )


def test_deny_entries_grant_nothing():
    verdict = acl((ace("NT AUTHORITY\\SYSTEM"), ace("Everyone", "Write", "Deny")))

    assert verdict.status is Status.PASS
    assert by_item(verdict, "Everyone").ok is None


def test_no_allow_entry_passes():
    verdict = acl(())

    assert verdict.status is Status.PASS
    assert by_item(verdict, "rights on server.xml").observed.startswith(
        "no Allow entry"
    )


def test_missing_allow_list_is_not_reviewed():
    verdict = acl((ace("Everyone"),), allowed=None)

    assert verdict.status is Status.NOT_REVIEWED


def test_missing_acl_is_an_error_naming_the_collector():
    with pytest.raises(CheckError) as raised:
        acl(
            None,
            warnings=(
                "server_xml_acl: Attempted to perform an unauthorized operation.",
            ),
        )

    assert "host_facts.ps1" in str(raised.value)
    assert "Attempted to perform an unauthorized operation." in str(raised.value)


def test_missing_server_xml_names_the_inventory_key():
    with pytest.raises(CheckError, match="site.sphere_root"):
        acl(None, server=None)


def test_acl_check_does_not_parse_server_xml():
    # A broken server.xml does not hide its permissions.
    verdict = acl((ace("NT AUTHORITY\\SYSTEM"),), server=server_xml("truncated.xml"))

    assert verdict.status is Status.PASS
