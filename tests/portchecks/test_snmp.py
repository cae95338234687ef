"""SNMP rows of the port table: the authPriv GET decides, v1/v2c is a warning.

The unit tests swap the network calls for fakes; the live tests probe the
lab's snmp1 (needs lab/up) and a private agent that also answers v2c.
"""

from __future__ import annotations

import pytest
import yaml
from pysnmp.proto import errind

from lab import snmp as lab_snmp
from lab.hosts import RUN_DIR
from sphere_stig import catalog, inventory
from sphere_stig.outcome import CollectionError, Status
from sphere_stig.portchecks import snmp as check
from sphere_stig.ports import evaluate_port
from sphere_stig.transports import snmp
from tests.transports.snmpd_agent import ADDRESS, SYS_DESCR, running_agent

ROW = next(r for r in catalog.load_ports() if r.id == "LST-09")
REPO = RUN_DIR.parents[1]
ANSWER = {snmp.SYS_DESCR: "Cisco IOS XE", snmp.SYS_OBJECT_ID: "1.3.6.1.4.1.9.1.2494"}


def make_host(tmp_path, address="127.0.0.44", port=161, **snmp_settings):
    for field in ("auth_key", "priv_key"):
        if isinstance(snmp_settings.get(field), str):
            secret = tmp_path / field
            secret.write_text(snmp_settings[field])
            snmp_settings[field] = {"file": str(secret)}
    document = {
        "hosts": {
            "dev1": {
                "address": address,
                "roles": ["snmp_device"],
                "connections": {
                    "snmp": {"port": port, "timeout": 0.5, **snmp_settings}
                },
            }
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(document))
    return inventory.load(str(path), tmp_path, catalog.load_roles()).host("dev1")


@pytest.fixture
def host(tmp_path):
    return make_host(
        tmp_path, user="stigscan", auth_key="auth-key-1", priv_key="priv-key-1"
    )


def silence() -> CollectionError:
    target = snmp.SnmpTarget("dev1", "127.0.0.44", 161, 0.5)
    reason = snmp.error_reason(errind.requestTimedOut, 0, target, "stigscan")
    return CollectionError("dev1", target.source, reason)


@pytest.fixture
def answers(monkeypatch):
    """Replace the v3 GET and the community probes with canned answers."""
    canned: dict[str, object] = {"v3": ANSWER, "v1": None, "v2c": None}

    async def v3_get(self, *oids):
        if isinstance(canned["v3"], BaseException):
            raise canned["v3"]
        return canned["v3"]

    async def community_get(target, community, version, *oids):
        assert community == "public"
        return canned[version]

    monkeypatch.setattr(snmp.SnmpSession, "get", v3_get)
    monkeypatch.setattr(snmp, "community_get", community_get)
    return canned


# -- without a network --------------------------------------------------------


def test_no_credentials_is_not_reviewed_naming_the_setting(tmp_path):
    host = make_host(tmp_path)

    verdict = check.probe_snmp(ROW, host)

    assert verdict.status is Status.NOT_REVIEWED
    assert "connections.snmp" in verdict.summary
    assert verdict.evidence[0].item == "connections.snmp"


def test_user_without_keys_is_not_reviewed(tmp_path):
    host = make_host(tmp_path, user="stigscan")

    assert check.probe_snmp(ROW, host).status is Status.NOT_REVIEWED


def test_authpriv_answer_passes_and_quiet_communities_are_info(host, answers):
    verdict = check.probe_snmp(ROW, host)

    assert verdict.status is Status.PASS
    assert verdict.summary == "dev1 answers SNMPv3 authPriv on 161 (UDP) (SNMP)"
    v3, v1, v2c = verdict.evidence
    assert v3.ok is True and "'Cisco IOS XE'" in v3.observed
    assert "1.3.6.1.4.1.9.1.2494" in v3.observed
    assert "user stigscan authPriv SHA/AES" in v3.observed
    assert (v1.ok, v2c.ok) == (None, None)
    assert v1.observed == "no answer within 0.5 s"


def test_answering_v2c_public_is_a_warning_not_a_failure(host, answers):
    answers["v2c"] = {snmp.SYS_DESCR: "Cisco IOS XE"}

    verdict = check.probe_snmp(ROW, host)

    assert verdict.status is Status.PASS
    assert verdict.summary.endswith("warning: also answers SNMPv2c community 'public'")
    v2c = verdict.evidence[2]
    assert v2c.ok is None
    assert v2c.observed.startswith("WARNING: answers community 'public'")
    assert "clear text" in v2c.observed


def test_silence_everywhere_fails_the_row(host, answers):
    answers["v3"] = silence()

    verdict = check.probe_snmp(ROW, host)

    assert verdict.status is Status.FAIL
    assert verdict.summary.startswith("dev1 does not answer SNMP on 161 (UDP)")
    assert verdict.evidence[0].ok is False


def test_refused_credentials_are_an_error_with_evidence(host, answers):
    answers["v3"] = CollectionError(
        "dev1", "SNMP udp://127.0.0.44:161", "wrong digest: ..."
    )

    verdict = check.probe_snmp(ROW, host)

    assert verdict.status is Status.ERROR
    assert "answered, but the SNMPv3 GET failed: wrong digest" in verdict.summary
    assert len(verdict.evidence) == 3


def test_v3_silent_while_v2c_answers_is_an_error(host, answers):
    answers["v3"] = silence()
    answers["v1"] = answers["v2c"] = {snmp.SYS_DESCR: "x"}

    verdict = check.probe_snmp(ROW, host)

    assert verdict.status is Status.ERROR
    assert "answers SNMPv1/v2c but not the SNMPv3 request" in verdict.summary


def test_unreadable_key_file_is_a_collection_error(tmp_path):
    host = make_host(
        tmp_path,
        user="stigscan",
        auth_key={"file": str(tmp_path / "missing")},
        priv_key="priv-key-1",
    )

    with pytest.raises(CollectionError, match="cannot be read"):
        check.probe_snmp(ROW, host)


def test_udp_service_rows_on_161_reach_this_probe(host, answers):
    assert evaluate_port(ROW, host).status is Status.PASS


# -- live ---------------------------------------------------------------------


def require_snmp1() -> None:
    if lab_snmp.running(lab_snmp.Layout(RUN_DIR)) is None:
        pytest.fail(
            "the lab's SNMP agent snmp1 (127.0.0.4:161) is not running: start it with lab/up",
            pytrace=False,
        )


def test_lab_snmp1_passes_and_ignores_public():
    require_snmp1()
    lab = inventory.load("lab", REPO / "inventories", catalog.load_roles())

    verdict = evaluate_port(ROW, lab.host("snmp1"))

    assert verdict.status is Status.PASS, verdict.details()
    assert "warning" not in verdict.summary
    v3, v1, v2c = verdict.evidence
    assert "ISEC7 lab SNMP device snmp1" in v3.observed
    assert "SHA-512/AES-256" in v3.observed
    assert v1.observed.startswith("no answer") and v2c.observed.startswith("no answer")


def test_agent_answering_public_passes_with_the_warning(tmp_path_factory, tmp_path):
    with running_agent(tmp_path_factory.mktemp("snmpd"), community="public") as agent:
        host = make_host(
            tmp_path,
            address=ADDRESS,
            port=agent.port,
            user="t-sha512-aes256",
            auth_protocol="SHA-512",
            priv_protocol="AES-256",
            auth_key=agent.auth_key,
            priv_key=agent.priv_key,
        )
        row = ROW.model_copy(update={"ports": (agent.port,)})

        verdict = check.probe_snmp(row, host)

    assert verdict.status is Status.PASS, verdict.details()
    assert "warning: also answers SNMPv1/v2c community 'public'" in verdict.summary
    assert all(SYS_DESCR in e.observed for e in verdict.evidence)
