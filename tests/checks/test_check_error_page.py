"""error_page (V-224788): java.lang.Exception goes to /exception.jsp."""

import pytest
from check_facts import by_item, data_file, facts, remote_source, windows_facts

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.webapp import error_page
from sphere_stig.outcome import CheckError, Status

ITEM = "error-page for java.lang.Exception"


def web_app(*pages: tuple[str, str], comment: str = "") -> bytes:
    body = "".join(
        f"<error-page><exception-type>{kind}</exception-type>"
        f"<location>{location}</location></error-page>\r\n"
        for kind, location in pages
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        '<web-app xmlns="http://xmlns.jcp.org/xml/ns/javaee" version="4.0">\r\n'
        f"<error-page><error-code>404</error-code><location>/nf.jsp</location>"
        f"</error-page>\r\n{body}{comment}</web-app>\r\n"
    ).encode()


def run(inputs, data: bytes | None):
    files = {} if data is None else {"sphere_web_xml": data}
    return error_page(facts(windows_facts(None, files=files)), inputs)


def test_registered_with_windows_facts():
    assert REGISTRY["error_page"].needs == ("windows",)


def test_active_error_page_passes(inputs):
    # Given the Sphere descriptor (type written across lines, a commented page)
    verdict = run(inputs, data_file("web-xml", "sphere-web.xml"))

    # Then the active page is found
    assert verdict.status is Status.PASS
    line = by_item(verdict, ITEM)
    assert (line.observed, line.source) == (
        "java.lang.Exception goes to /exception.jsp",
        remote_source("sphere_web_xml"),
    )


def test_commented_out_page_fails_and_says_so(inputs):
    commented = (
        "<!-- <error-page><exception-type>java.lang.Exception</exception-type>"
        "<location>/exception.jsp</location></error-page> -->"
    )

    verdict = run(inputs, web_app(comment=commented))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, ITEM).observed == (
        "no active error-page for java.lang.Exception (the file names it only "
        "inside a comment); other error pages: 404 -> /nf.jsp"
    )


def test_missing_page_fails(inputs):
    verdict = run(inputs, web_app(("java.lang.Throwable", "/exception.jsp")))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, ITEM).observed == (
        "no active error-page for java.lang.Exception; other error pages: "
        "404 -> /nf.jsp, java.lang.Throwable -> /exception.jsp"
    )


def test_other_location_fails(inputs):
    verdict = run(inputs, web_app(("java.lang.Exception", "/debug.jsp")))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, ITEM).observed == "java.lang.Exception goes to /debug.jsp"


def test_last_declaration_wins(inputs):
    # Given the right page first and a later one for the same type
    data = web_app(
        ("java.lang.Exception", "/exception.jsp"),
        ("java.lang.Exception", "/trace.jsp"),
    )

    verdict = run(inputs, data)

    # Then Tomcat keeps the later one
    assert verdict.status is Status.FAIL
    assert by_item(verdict, ITEM).observed == (
        "java.lang.Exception goes to /trace.jsp; 2 error pages name this type and "
        "Tomcat keeps the last one"
    )


def test_utf16_descriptor(inputs):
    text = web_app(("java.lang.Exception", "/exception.jsp")).decode()
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")

    assert run(inputs, data).status is Status.PASS


def test_comment_in_utf16_file_is_recognised(inputs):
    commented = "<!-- java.lang.Exception -->"
    text = web_app(comment=commented).decode()
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le")
    data = b"\xff\xfe" + data

    verdict = run(inputs, data)

    assert "only inside a comment" in by_item(verdict, ITEM).observed


def test_tomcat_global_descriptor_is_not_read(inputs):
    # Given the page only in Tomcat's conf/web.xml
    files = {
        "sphere_web_xml": web_app(),
        "tomcat_web_xml": web_app(("java.lang.Exception", "/exception.jsp")),
    }

    verdict = error_page(facts(windows_facts(None, files=files)), inputs)

    # Then it does not count: the rule names the Sphere application's file
    assert verdict.status is Status.FAIL


def test_missing_descriptor_is_an_error(inputs):
    with pytest.raises(CheckError, match="site.sphere_root"):
        run(inputs, None)


def test_broken_descriptor_is_an_error(inputs):
    with pytest.raises(CheckError, match="not well-formed"):
        run(inputs, b"<web-app><error-page></web-app>")
