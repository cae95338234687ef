"""lockout_realm_present, lockout_failure_count, lockout_time (V-224782..784)."""

import pytest
from check_facts import (
    DATA,
    SERVER_XML_SOURCE,
    by_item,
    facts,
    server_xml,
    windows_facts,
)

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.realm import (
    lockout_failure_count,
    lockout_realm_present,
    lockout_time,
)
from sphere_stig.outcome import CheckError, Status


def run(check, name, inputs, **kwargs):
    return check(facts(windows_facts(server_xml(name), **kwargs)), inputs)


@pytest.mark.parametrize(
    "name", ["lockout_realm_present", "lockout_failure_count", "lockout_time"]
)
def test_registered_with_windows_facts(name):
    assert REGISTRY[name].needs == ("windows",)


def test_hardened_realm_passes_all_three(inputs):
    # Given LockOutRealm failureCount="3" lockOutTime="900"
    present = run(lockout_realm_present, "hardened.xml", inputs)
    count = run(lockout_failure_count, "hardened.xml", inputs)
    time = run(lockout_time, "hardened.xml", inputs)

    # Then all three rules pass with the realm's values as evidence
    assert (present.status, count.status, time.status) == (Status.PASS,) * 3
    line = by_item(present, 'LockOutRealm in Engine "Catalina"')
    assert line.observed == "present and in effect, wrapping UserDatabaseRealm"
    assert line.source == SERVER_XML_SOURCE
    assert by_item(count, "failureCount").observed == (
        'failureCount="3": 3 failed logons before the account is locked'
    )
    assert by_item(time, "lockOutTime").observed == (
        'lockOutTime="900": 900 seconds an account stays locked'
    )
    assert by_item(time, "lockOutTime").expected == 'lockOutTime="900"'


def test_debian_stock_realm_uses_defaults(inputs):
    # Given Debian's stock LockOutRealm without attributes
    given = facts(windows_facts((DATA / "tomcat10-debian" / "server.xml").read_bytes()))

    # When the three checks run
    present = lockout_realm_present(given, inputs)
    count = lockout_failure_count(given, inputs)
    time = lockout_time(given, inputs)

    # Then the realm is present but Tomcat's defaults 5 and 300 are findings
    assert present.status is Status.PASS
    assert count.status is Status.FAIL
    assert by_item(count, "failureCount").observed == (
        "failureCount absent (Tomcat default 5): 5 failed logons before the account "
        "is locked"
    )
    assert time.status is Status.FAIL
    assert by_item(time, "lockOutTime").observed == (
        "lockOutTime absent (Tomcat default 300): 300 seconds an account stays locked"
    )


def test_legacy_file_mixes_explicit_and_default(inputs):
    # Given lockOutTime="900" but no failureCount
    assert run(lockout_time, "legacy-attributes.xml", inputs).status is Status.PASS
    assert (
        run(lockout_failure_count, "legacy-attributes.xml", inputs).status
        is Status.FAIL
    )


def test_commented_out_realm_is_missing(inputs):
    # Given the LockOutRealm only inside a comment
    verdict = run(lockout_realm_present, "commented-connector.xml", inputs)

    # Then it does not exist
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "LockOutRealm").observed == (
        "no active LockOutRealm in server.xml (realms in effect: UserDatabaseRealm)"
    )
    count = run(lockout_failure_count, "commented-connector.xml", inputs)
    assert count.status is Status.FAIL
    assert by_item(count, "LockOutRealm").observed.endswith("; no failureCount applies")


def test_replaced_realm_is_not_in_effect(inputs):
    # Given a LockOutRealm (failureCount 3) followed by another Realm in the Engine
    verdict = run(lockout_realm_present, "drifted.xml", inputs)

    # Then the presence check fails and explains the replacement
    assert verdict.status is Status.FAIL
    line = by_item(verdict, "LockOutRealm in Engine")
    assert line.observed == (
        "present but not in effect: a later Realm element in the same container "
        "replaces it"
    )
    assert line.ok is False
    # and its failureCount does not count
    assert run(lockout_failure_count, "drifted.xml", inputs).status is Status.FAIL


@pytest.mark.parametrize(
    ("written", "status", "observed"),
    [
        ('failureCount="3"', Status.PASS, 'failureCount="3": 3 failed'),
        ('failureCount="2"', Status.FAIL, 'failureCount="2": 2 failed'),
        ('failureCount=" 3"', Status.FAIL, 'failureCount=" 3" is not an integer'),
        ('failureCount="three"', Status.FAIL, 'failureCount="three" is not an integer'),
    ],
)
def test_failure_count_values(written, status, observed, inputs):
    # Given a LockOutRealm with one failureCount spelling
    data = (
        b'<Server><Service name="S"><Engine name="E"><Realm className='
        b'"org.apache.catalina.realm.LockOutRealm" ' + written.encode() + b"/>"
        b"</Engine></Service></Server>"
    )

    # When the check runs
    verdict = lockout_failure_count(facts(windows_facts(data)), inputs)

    # Then Java's integer rules decide
    assert verdict.status is status
    assert by_item(verdict, "failureCount").observed.startswith(observed)


def test_longer_lockout_is_reported_too(inputs):
    # Given lockOutTime="1800", stricter than asked but not what the STIG says
    data = server_xml("hardened.xml").replace(
        b'lockOutTime="900"', b'lockOutTime="1800"'
    )

    # Then the literal check text (exactly 900) is applied
    verdict = lockout_time(facts(windows_facts(data)), inputs)
    assert verdict.status is Status.FAIL


def test_unresolved_lockout_time_is_an_error(inputs):
    # Given lockOutTime="${lockout.seconds}" without a definition
    given = facts(windows_facts(server_xml("placeholders.xml")))

    with pytest.raises(CheckError, match=r"lockOutTime uses \$\{lockout.seconds\}"):
        lockout_time(given, inputs)
    # while failureCount has a ${...:-3} default and can be judged
    assert lockout_failure_count(given, inputs).status is Status.PASS
