"""Deployment descriptors: session timeout, error pages, security constraints."""

from pathlib import Path

import pytest

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.webxml import ErrorPage, parse_web_xml

DATA = Path(__file__).resolve().parents[1] / "data"
SOURCE = r"sphere01: C:\Program Files\ISEC7 SPHERE\web\WEB-INF\web.xml"


def parse(*parts):
    return parse_web_xml(DATA.joinpath(*parts).read_bytes(), SOURCE)


def test_debian_global_web_xml():
    # Given Tomcat's stock conf/web.xml (Jakarta EE namespace, 174 KB)
    web = parse("tomcat10-debian", "web.xml")

    # Then the stock 30-minute timeout is read and nothing else is configured
    assert web.session_timeout_raw == "30"
    assert web.session_timeout == 30
    assert web.error_pages == ()
    assert web.security_constraints == ()
    assert web.problems == ()


def test_sphere_descriptor_in_java_ee_namespace():
    # Given the Sphere application's descriptor
    web = parse("web-xml", "sphere-web.xml")

    # Then the timeout and error pages are read with white space trimmed
    assert web.session_timeout == 15
    assert web.error_pages == (
        ErrorPage(error_code="404", exception_type=None, location="/notfound.jsp"),
        ErrorPage(
            error_code=None,
            exception_type="java.lang.Exception",
            location="/exception.jsp",
        ),
    )
    assert (
        web.error_page_for_exception("java.lang.Exception").location == "/exception.jsp"
    )
    # and the commented-out Throwable page does not exist
    assert web.error_page_for_exception("java.lang.Throwable") is None


def test_security_constraints():
    # Given Tomcat's global descriptor with the Secure and Unsecure constraints
    web = parse("web-xml", "tomcat-constraints.xml")

    # When they are looked up by web-resource-name
    (unsecure,) = web.constraints_named("Unsecure")
    (secure,) = web.constraints_named("Secure")

    # Then patterns, guarantee and roles are as written
    assert len(unsecure.url_patterns) == 10
    assert unsecure.url_patterns[0] == "/BNator/agent/*"
    assert unsecure.url_patterns[-1] == "/app/resource/*"
    assert unsecure.transport_guarantee is None
    assert unsecure.auth_roles is None
    assert secure.display_name == "Force TLS"
    assert secure.url_patterns == ("/*",)
    assert secure.transport_guarantee == "CONFIDENTIAL"
    assert secure.auth_roles == ()
    assert web.constraints_named("Other") == ()


def test_invalid_descriptor_reports_its_problems():
    # Given two session-config elements, the first one not a number
    web = parse("web-xml", "two-session-configs.xml")

    # Then the first is read, kept as text, and the duplicate is reported
    assert web.session_timeout_raw == "fifteen"
    assert web.session_timeout is None
    assert web.problems == (
        "2 <session-config> elements; the Servlet specification allows one and "
        "Tomcat refuses the application",
    )


def test_no_session_config():
    # Given a descriptor without session-config
    web = parse_web_xml(
        b'<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee"/>', SOURCE
    )

    # Then there is no timeout at this level
    assert web.session_timeout_raw is None
    assert web.session_timeout is None


def test_wrong_root_element():
    # Given server.xml where a web.xml was expected, then the mistake is named
    with pytest.raises(CheckError, match="not <web-app>; this is not a deployment"):
        parse("server-xml", "hardened.xml")
