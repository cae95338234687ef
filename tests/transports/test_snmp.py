"""The SNMP transport: protocol names, error reasons, values, and real agents.

The unit tests need no network. The live tests talk to a private snmpd
(``snmpd_agent.py``) started for this module on 127.0.0.41, on a free UDP
port, with pysnmp as the real client; nothing is mocked there.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import yaml
from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import auth
from pysnmp.proto import errind, rfc1902, rfc1905

from sphere_stig import catalog, inventory, redact
from sphere_stig.outcome import CollectionError
from sphere_stig.transports import snmp
from tests.transports.snmpd_agent import (
    ADDRESS,
    NO_ACCESS_USER,
    SYS_DESCR,
    USERS,
    running_agent,
)

TARGET = snmp.SnmpTarget("dev1", "127.0.0.41", 1161, 1.5)


def make_host(
    tmp_path, name="dev1", address=ADDRESS, port=161, timeout=2.0, **snmp_settings
):
    """A host loaded through a real inventory file, keys as file references."""
    settings = {"port": port, "timeout": timeout, **snmp_settings}
    for field in ("auth_key", "priv_key"):
        if isinstance(settings.get(field), str):
            secret = tmp_path / f"{name}-{field}"
            secret.write_text(settings[field])
            settings[field] = {"file": str(secret)}
    document = {
        "hosts": {
            name: {
                "address": address,
                "roles": ["snmp_device"],
                "connections": {"snmp": settings},
            }
        }
    }
    path = tmp_path / f"inv-{name}.yml"
    path.write_text(yaml.safe_dump(document))
    return inventory.load(str(path), tmp_path, catalog.load_roles()).host(name)


# -- protocol names ---------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("SHA", auth.USM_AUTH_HMAC96_SHA),
        ("SHA-256", auth.USM_AUTH_HMAC192_SHA256),
        ("SHA-384", auth.USM_AUTH_HMAC256_SHA384),
        ("SHA-512", auth.USM_AUTH_HMAC384_SHA512),
    ],
)
def test_auth_protocol_names_map_to_pysnmp(name, expected):
    assert snmp.auth_protocol(name) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("AES", auth.USM_PRIV_CFB128_AES),
        # Net-SNMP's AES-192/256 extend short keys the Blumenthal way.
        ("AES-192", auth.USM_PRIV_CFB192_AES_BLUMENTHAL),
        ("AES-256", auth.USM_PRIV_CFB256_AES_BLUMENTHAL),
    ],
)
def test_priv_protocol_names_map_to_pysnmp(name, expected):
    assert snmp.priv_protocol(name) == expected


def test_unknown_protocol_names_are_refused():
    with pytest.raises(ValueError, match="MD5"):
        snmp.auth_protocol("MD5")
    with pytest.raises(ValueError, match="DES"):
        snmp.priv_protocol("DES")


# -- error reasons ----------------------------------------------------------


def test_timeout_reason_names_the_causes_and_counts_as_silence():
    reason = snmp.error_reason(errind.requestTimedOut, 0, TARGET, "stigscan")

    assert reason.startswith("no answer within 1.5 s")
    assert "agent is down" in reason and "privacy key" in reason
    assert snmp.is_silence(CollectionError("dev1", TARGET.source, reason))


def test_wrong_digest_reason_blames_the_authentication_key():
    reason = snmp.error_reason(errind.wrongDigest, 0, TARGET, "stigscan")

    assert reason.startswith("wrong digest: the agent knows user stigscan")
    assert "authentication key" in reason
    assert not snmp.is_silence(CollectionError("dev1", TARGET.source, reason))


def test_unknown_user_reason_names_the_user():
    reason = snmp.error_reason(errind.unknownUserName, 0, TARGET, "stigscan")

    assert reason == "unknown user: the agent has no SNMPv3 user stigscan"


def test_authorization_error_reason_names_the_oids():
    reason = snmp.error_reason(
        None, snmp.AUTHORIZATION_ERROR, TARGET, "stigscan", [snmp.SYS_DESCR]
    )

    assert reason.startswith(
        "authorization error: the agent authenticated user stigscan"
    )
    assert snmp.SYS_DESCR in reason


def test_missing_cipher_support_points_at_the_pins():
    reason = snmp.error_reason(errind.encryptionError, 0, TARGET, "stigscan")

    assert "pyproject.toml" in reason


def test_other_engine_errors_keep_pysnmp_text():
    reason = snmp.error_reason(errind.notInTimeWindow, 0, TARGET, "stigscan")

    assert reason.startswith("SNMP engine error: ")


# -- values -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (rfc1902.OctetString(b"Linux snmp1 6.1"), "Linux snmp1 6.1"),
        (rfc1902.OctetString(b"\x00\x01\xfe"), "0x0001fe"),
        (rfc1902.OctetString(b""), ""),
        (univ.ObjectIdentifier("1.3.6.1.4.1.8072.3.2.10"), "1.3.6.1.4.1.8072.3.2.10"),
        (rfc1902.TimeTicks(12345), 12345),
        (rfc1902.Counter64(2**40), 2**40),
        (rfc1902.Integer32(-3), -3),
        (rfc1902.IpAddress("10.1.2.3"), "10.1.2.3"),
        (rfc1905.NoSuchObject(""), None),
        (rfc1905.NoSuchInstance(""), None),
        (rfc1905.EndOfMibView(""), None),
    ],
)
def test_plain_value(value, expected):
    assert snmp.plain_value(value) == expected


# -- credentials ------------------------------------------------------------


def test_credentials_repr_hides_the_keys():
    creds = snmp.UsmCredentials(
        "stigscan", "SHA-512", "auth-secret", "AES-256", "priv-secret"
    )

    assert "secret" not in repr(creds)
    assert creds.describe() == "user stigscan authPriv SHA-512/AES-256"


def test_credentials_are_resolved_and_registered_for_redaction(tmp_path):
    host = make_host(
        tmp_path, user="stigscan", auth_key="auth-Key-4711", priv_key="priv-Key-4712"
    )

    creds = snmp.credentials_for(host)

    assert (creds.auth_key, creds.priv_key) == ("auth-Key-4711", "priv-Key-4712")
    assert redact.scrub("auth-Key-4711 priv-Key-4712") == f"{redact.MASK} {redact.MASK}"


def test_missing_credentials_are_a_collection_error(tmp_path):
    host = make_host(tmp_path, user="stigscan")

    with pytest.raises(CollectionError, match="no SNMPv3 credentials") as caught:
        snmp.credentials_for(host)
    assert caught.value.source == f"SNMP udp://{ADDRESS}:161"


def test_unreadable_key_file_names_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "key"
    host = make_host(
        tmp_path, user="stigscan", auth_key={"file": str(missing)}, priv_key="x1234567"
    )

    with pytest.raises(CollectionError, match="cannot be read") as caught:
        snmp.credentials_for(host)
    assert str(missing) in caught.value.reason


# -- against a real agent ---------------------------------------------------


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    with running_agent(tmp_path_factory.mktemp("snmpd"), community="public") as agent:
        yield agent


@pytest.fixture
def agent_host(tmp_path, agent):
    """make_host for the private agent's address and port."""

    def make(**settings):
        return make_host(tmp_path, port=agent.port, **settings)

    return make


@pytest.fixture
def pool():
    with snmp.SnmpPool() as pool:
        yield pool


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_protocol_pair_reads_sysdescr(agent_host, agent, pool, user):
    auth_name, priv_name = USERS[user]
    host = agent_host(
        user=user,
        auth_protocol=auth_name,
        priv_protocol=priv_name,
        auth_key=agent.auth_key,
        priv_key=agent.priv_key,
    )

    values = pool.get_many(host, snmp.SYS_DESCR, snmp.SYS_OBJECT_ID)

    assert values[snmp.SYS_DESCR] == SYS_DESCR
    assert values[snmp.SYS_OBJECT_ID].startswith("1.3.6.1.4.1.8072.")


def test_get_returns_one_value_and_none_for_a_missing_object(agent_host, agent, pool):
    host = agent_host(
        user="t-sha512-aes256",
        auth_protocol="SHA-512",
        priv_protocol="AES-256",
        auth_key=agent.auth_key,
        priv_key=agent.priv_key,
    )

    assert pool.get(host, snmp.SYS_DESCR) == SYS_DESCR
    assert pool.get(host, "1.3.6.1.2.1.1.99.0") is None
    assert pool.session(host) is pool.session(host)


def _failure(pool, host) -> CollectionError:
    with pytest.raises(CollectionError) as caught:
        pool.get(host, snmp.SYS_DESCR)
    return caught.value


def test_wrong_authentication_key_is_a_wrong_digest(agent_host, agent, pool):
    host = agent_host(
        user="t-sha512-aes256",
        auth_protocol="SHA-512",
        priv_protocol="AES-256",
        auth_key="not-the-auth-key",
        priv_key=agent.priv_key,
    )

    error = _failure(pool, host)

    assert error.host == "dev1"
    assert error.source == f"SNMP udp://{ADDRESS}:{agent.port}"
    assert error.reason.startswith("wrong digest")


def test_unknown_user_is_reported_as_such(agent_host, agent, pool):
    host = agent_host(user="nobody", auth_key=agent.auth_key, priv_key=agent.priv_key)

    assert _failure(pool, host).reason.startswith("unknown user: ")


def test_user_without_access_is_an_authorization_error(agent_host, agent, pool):
    host = agent_host(
        user=NO_ACCESS_USER,
        auth_protocol="SHA-512",
        priv_protocol="AES-256",
        auth_key=agent.auth_key,
        priv_key=agent.priv_key,
    )

    assert _failure(pool, host).reason.startswith("authorization error: ")


def test_wrong_privacy_key_goes_unanswered(agent_host, agent, pool):
    # The agent cannot decrypt the request and drops it without a report.
    host = agent_host(
        timeout=0.5,
        user="t-sha512-aes256",
        auth_protocol="SHA-512",
        priv_protocol="AES-256",
        auth_key=agent.auth_key,
        priv_key="not-the-priv-key",
    )

    error = _failure(pool, host)

    assert snmp.is_silence(error)
    assert error.reason.startswith("no answer within 0.5 s")


def test_no_agent_at_all_is_a_timeout(tmp_path, pool):
    host = make_host(
        tmp_path,
        address="127.0.0.42",
        timeout=0.5,
        user="u",
        auth_key="a" * 8,
        priv_key="p" * 8,
    )

    assert snmp.is_silence(_failure(pool, host))


def test_community_answers_are_data_and_silence_is_none(agent, pool):
    target = snmp.SnmpTarget("dev1", ADDRESS, agent.port, 0.5)

    v1, v2c, wrong = pool.gather(
        snmp.community_get(target, "public", "v1"),
        snmp.community_get(target, "public", "v2c"),
        snmp.community_get(target, "not-public", "v2c"),
    )

    assert v1 == {snmp.SYS_DESCR: SYS_DESCR}
    assert v2c == {snmp.SYS_DESCR: SYS_DESCR}
    assert wrong is None


def test_gather_returns_failures_instead_of_raising(agent_host, agent, pool):
    host = agent_host(user="nobody", auth_key=agent.auth_key, priv_key=agent.priv_key)
    session = pool.session(host)
    target = snmp.SnmpTarget("dev1", ADDRESS, agent.port, 0.5)

    v3, v2c = pool.gather(
        session.get(snmp.SYS_DESCR), snmp.community_get(target, "public", "v2c")
    )

    assert isinstance(v3, CollectionError)
    assert v2c == {snmp.SYS_DESCR: SYS_DESCR}


def test_keys_never_reach_the_log(agent_host, agent, caplog):
    caplog.set_level(logging.DEBUG, logger="sphere_stig.transports.snmp")
    host = agent_host(
        user="t-sha512-aes256",
        auth_protocol="SHA-512",
        priv_protocol="AES-256",
        auth_key=agent.auth_key,
        priv_key=agent.priv_key,
    )

    with snmp.SnmpPool() as pool:
        pool.get(host, snmp.SYS_DESCR)

    assert "SNMP session to dev1" in caplog.text
    assert "RUN snmp get" in caplog.text
    assert "closed" in caplog.text
    assert agent.auth_key not in caplog.text and agent.priv_key not in caplog.text


def test_pool_close_is_safe_twice_and_leaves_no_running_loop():
    pool = snmp.SnmpPool()
    pool.close()
    pool.close()

    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
