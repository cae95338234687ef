"""The lab images against the checks: sphere01 passes, sphere02 fails.

The facts come straight from each committed image (lab/images/<host>/): the
files under fs/, and windows.json for what is not a file. No WinRM and no
running lab are involved, so the agreement "hardened passes every automated
rule, drifted fails each" is pinned by the unit tests. The inputs are those
of inventories/lab.yml over the catalog defaults, as a real run merges them.

(The module is not called test_lab_images.py because tests/lab has one, and
two test modules with one basename cannot be collected together.)
"""

import json
import ntpath
from pathlib import Path, PureWindowsPath

import pytest

from lab.hosts import SPHERE_ROOT_WINDOWS, host
from lab.pki import ROOT_NAME
from sphere_stig import catalog
from sphere_stig.checks import REGISTRY, Facts
from sphere_stig.evaluate import inputs_for
from sphere_stig.facts import (
    SPHERE_FILES,
    AclEntry,
    RemoteFile,
    StoreCertificate,
    TomcatService,
    WindowsFacts,
)
from sphere_stig.inventory import load
from sphere_stig.outcome import Status
from sphere_stig.transports.http import HttpPage

REPO = Path(__file__).resolve().parents[2]
CHECKS = (
    "connection_limits",
    "session_timeout",
    "login_banner",
    "log_destination",
    "dod_roots_installed",
    "cac_login",
    "windows_root_truststore",
    "keystore_windows_my",
    "tomcat_users_hashed",
    "webapps_minimal",
    "error_page",
    "server_xml_acl",
    "manager_role_user",
    "transport_security_constraints",
)


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def lab_ca_entry() -> StoreCertificate:
    # The WinRM double adds the lab root from lab/.run/pki/ca.pem at request
    # time. That file exists only after lab/up, so a stand-in with the same
    # subject (as .NET prints it) takes its place; thumbprint and expiry are
    # made up.
    subject = ", ".join(
        f"{a.rfc4514_attribute_name}={a.value}" for a in reversed(list(ROOT_NAME))
    )
    return StoreCertificate(subject, subject, "AB" * 20, "2035-01-01T00:00:00Z")


def _service(config: dict) -> TomcatService | None:
    tomcat_bin = ntpath.join(SPHERE_ROOT_WINDOWS, "Tomcat", "bin") + "\\"
    for service in config.get("services", []):
        if (
            service["path_name"]
            .lstrip('"')
            .casefold()
            .startswith(tomcat_bin.casefold())
        ):
            key = (
                "HKLM\\SOFTWARE\\WOW6432Node\\Apache Software Foundation\\"
                f"Procrun 2.0\\{service['name']}\\Parameters\\Java"
            )
            values = config.get("registry", {}).get(key, {})
            options = [*values.get("Options", []), *values.get("Options9", [])]
            return TomcatService(
                name=service["name"],
                display_name=service["display_name"],
                path=service["path_name"],
                state=service["state"],
                registry_key=key if values else "",
                java_options=tuple(options),
            )
    return None


def image_facts(name: str) -> WindowsFacts:
    """What the host facts script would report for the image, built by hand."""
    root = host(name).sphere_root()
    config = json.loads((host(name).image() / "windows.json").read_text("utf-8"))
    files = {}
    for key, relative in SPHERE_FILES.items():
        local = root.joinpath(*PureWindowsPath(relative).parts)
        path = ntpath.join(SPHERE_ROOT_WINDOWS, relative)
        data = local.read_bytes() if local.is_file() else None
        files[key] = RemoteFile(key, path, data is not None, data)
    acl = next(
        entries
        for path, entries in config["acls"].items()
        if _same(path, files["server_xml"].path)
    )
    store = next(
        v for k, v in config["cert_stores"].items() if _same(k, "LocalMachine\\Root")
    )
    roots = [StoreCertificate(**c) for c in store]
    if config.get("root_store_include_lab_ca"):
        roots.append(lab_ca_entry())
    return WindowsFacts(
        host=name,
        computer_name=config["computer_name"],
        sphere_root=SPHERE_ROOT_WINDOWS,
        files=files,
        webapps=tuple(
            sorted(
                (p.name for p in (root / "Tomcat" / "webapps").iterdir()),
                key=str.casefold,
            )
        ),
        server_xml_acl=tuple(AclEntry(**e) for e in acl),
        root_store=tuple(roots),
        tomcat_service=_service(config),
    )


def login_page(name: str) -> HttpPage:
    # The lab Tomcat serves the image's web/index.html as the console root.
    body = (host(name).sphere_root() / "web" / "index.html").read_text("utf-8")
    url = f"https://{host(name).fqdn}/"
    return HttpPage(url, 200, "text/html", body, (url,))


@pytest.fixture(scope="module")
def lab_inventory():
    return load("lab", REPO / "inventories", catalog.ROLES)


def verdicts(name: str, lab_inventory) -> dict[str, object]:
    facts = Facts(host=name, windows=image_facts(name), http=login_page(name))
    inputs = inputs_for(lab_inventory.host(name))
    return {check: REGISTRY[check].fn(facts, inputs) for check in CHECKS}


def test_every_automated_rule_is_covered():
    # Given the catalog's automated rules, when the registry is consulted,
    # then each of them has a check, and this module exercises the new ones
    automated = {r.check for r in catalog.load_rules() if not r.manual}
    assert automated <= set(REGISTRY)
    assert set(CHECKS) <= automated


def test_hardened_sphere01_passes_every_check(lab_inventory):
    # Given sphere01's image, when every check judges it
    results = verdicts("sphere01", lab_inventory)

    # Then all of them pass
    failing = {
        name: verdict.details()
        for name, verdict in results.items()
        if verdict.status is not Status.PASS
    }
    assert failing == {}


def test_drifted_sphere02_fails_every_check(lab_inventory):
    # Given sphere02's image, when every check judges it
    results = verdicts("sphere02", lab_inventory)

    # Then every one of them is a finding, not an error or a skip
    not_failing = {
        name: verdict.details()
        for name, verdict in results.items()
        if verdict.status is not Status.FAIL
    }
    assert not_failing == {}


# The reason each sphere02 check fails: the drift the lab README describes.
DRIFT = {
    "connection_limits": 'maxThreads="200": 200 worker threads',
    "session_timeout": "30 minutes, from the Sphere application's web.xml",
    "login_banner": "none of the banner phrases found",
    "log_destination": "not on the declared one",
    "dod_roots_installed": "not in the store",
    "cac_login": "Tomcat does not ask for a client certificate",
    "windows_root_truststore": "no -Djavax.net.ssl.trustStoreType option",
    "keystore_windows_my": 'certificateKeystoreType="PKCS12"',
    "tomcat_users_hashed": "cleartext (not shown)",
    "webapps_minimal": "extra entries docs, examples, ROOT",
    "error_page": "no active error-page for java.lang.Exception",
    "server_xml_acl": "Everyone: Allow Modify, Synchronize (explicit): a group",
    "manager_role_user": "no user holds manager-gui or manager-script",
    "transport_security_constraints": "no constraint named Secure",
}


@pytest.mark.parametrize("check", CHECKS)
def test_sphere02_fails_for_the_documented_drift(check, lab_inventory):
    verdict = verdicts("sphere02", lab_inventory)[check]

    assert DRIFT[check] in verdict.summary, verdict.details()
