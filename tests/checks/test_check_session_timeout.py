"""session_timeout (V-224761, V-224774): console sessions end within 15 minutes."""

import pytest
from check_facts import by_item, data_file, facts, remote_source, windows_facts

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.webapp import session_timeout
from sphere_stig.outcome import CheckError, Status

SPHERE = remote_source("sphere_web_xml")
TOMCAT = remote_source("tomcat_web_xml")
DEBIAN_WEB_XML = data_file("tomcat10-debian", "web.xml")


def web_app(timeout: str | None, extra: str = "") -> bytes:
    config = (
        f"<session-config><session-timeout>{timeout}</session-timeout></session-config>"
        if timeout is not None
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        '<web-app xmlns="http://xmlns.jcp.org/xml/ns/javaee" version="4.0">\r\n'
        f"{config}{extra}</web-app>\r\n"
    ).encode()


def run(inputs, sphere: bytes | None, tomcat: bytes | None = DEBIAN_WEB_XML):
    files = {}
    if sphere is not None:
        files["sphere_web_xml"] = sphere
    if tomcat is not None:
        files["tomcat_web_xml"] = tomcat
    return session_timeout(facts(windows_facts(None, files=files)), inputs)


def test_registered_with_windows_facts():
    assert REGISTRY["session_timeout"].needs == ("windows",)


def test_application_value_wins_over_tomcat(inputs):
    # Given the Sphere descriptor with 15 minutes and Debian's global 30
    verdict = run(inputs, data_file("web-xml", "sphere-web.xml"))

    # Then the application's value decides and both files are kept apart
    assert verdict.status is Status.PASS
    assert (
        verdict.summary == "Console sessions expire after 15 minutes without activity"
    )
    app = by_item(verdict, "the Sphere application's web.xml")
    assert (app.observed, app.source, app.ok) == (
        "session-timeout 15 (15 minutes)",
        SPHERE,
        None,
    )
    tomcat = by_item(verdict, "Tomcat's global web.xml")
    assert (tomcat.observed, tomcat.source) == (
        "session-timeout 30 (30 minutes); the application's own value takes precedence",
        TOMCAT,
    )
    effective = by_item(verdict, "effective")
    assert (effective.observed, effective.source, effective.ok) == (
        "15 minutes, from the Sphere application's web.xml",
        SPHERE,
        True,
    )
    assert "inferred" in by_item(verdict, "console setting").observed


def test_global_value_applies_when_the_application_sets_none(inputs):
    # Given no session-config in the application and 10 minutes globally
    verdict = run(inputs, web_app(None), web_app("10"))

    # Then Tomcat's global web.xml decides
    assert verdict.status is Status.PASS
    effective = by_item(verdict, "effective")
    assert (effective.observed, effective.source) == (
        "10 minutes, from Tomcat's global web.xml (the application sets none)",
        TOMCAT,
    )
    assert by_item(verdict, "application's web.xml").observed == "no session-timeout"


def test_debian_global_thirty_minutes_fails(inputs):
    verdict = run(inputs, web_app(None))

    assert verdict.status is Status.FAIL
    assert verdict.summary == (
        "Console sessions do not expire within 15 idle minutes: 30 minutes, from "
        "Tomcat's global web.xml (the application sets none)"
    )


def test_builtin_default_when_neither_sets_one(inputs):
    verdict = run(inputs, web_app(None), web_app(None))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "effective").observed == (
        "30 minutes, from Tomcat's built-in default (neither web.xml sets one)"
    )


def test_session_config_without_timeout_falls_through(inputs):
    # A cookie-config alone does not set a timeout.
    sphere = web_app(None, "<session-config><cookie-config/></session-config>")

    verdict = run(inputs, sphere, web_app("5"))

    assert by_item(verdict, "effective").observed.startswith("5 minutes, from Tomcat")


@pytest.mark.parametrize(
    ("written", "status", "observed"),
    [
        ("1", Status.PASS, "1 minute, from"),
        ("15", Status.PASS, "15 minutes, from"),
        ("+15", Status.PASS, "15 minutes, from"),
        ("16", Status.FAIL, "16 minutes, from"),
        ("0", Status.FAIL, "0: sessions never expire, from"),
        ("-1", Status.FAIL, "-1: sessions never expire, from"),
    ],
)
def test_bounds(written, status, observed, inputs):
    verdict = run(inputs, web_app(written))

    assert verdict.status is status
    assert by_item(verdict, "effective").observed.startswith(observed)


@pytest.mark.parametrize("written", ["fifteen", "1_5", "", "15.0"])
def test_value_tomcat_cannot_read_is_an_error(written, inputs):
    with pytest.raises(CheckError, match="is not a whole number of minutes"):
        run(inputs, web_app(written))


def test_two_session_configs_are_an_error(inputs):
    with pytest.raises(CheckError, match="2 <session-config> elements"):
        run(inputs, data_file("web-xml", "two-session-configs.xml"))


@pytest.mark.parametrize("codec", ["utf-16", "utf-8-sig"])
def test_bom_and_utf16_descriptors(codec, inputs):
    # Given the descriptor saved by a Windows editor (the encoding is declared
    # to match, as Java's parser insists)
    text = web_app("10").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    if codec == "utf-8-sig":
        text = web_app("10").decode()

    verdict = run(inputs, text.encode(codec))

    assert verdict.status is Status.PASS


def test_missing_sphere_descriptor_names_the_inventory_key(inputs):
    with pytest.raises(CheckError, match=r"web\\WEB-INF\\web.xml does not exist"):
        run(inputs, None)


def test_missing_tomcat_descriptor_names_the_inventory_key(inputs):
    with pytest.raises(CheckError, match="site.sphere_root"):
        run(inputs, web_app("15"), None)
