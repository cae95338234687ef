"""password_field_masked (AUTH-02): the logon page masks the password."""

import pytest
from check_facts import HOST, by_item, facts

from lab.hosts import host
from sphere_stig.checks import REGISTRY
from sphere_stig.checks.console import form_fields, password_field_masked
from sphere_stig.outcome import CheckError, Status
from sphere_stig.transports.http import HttpPage

URL = "https://sphere01.lab.example/"
USER = '<input name="username" autocomplete="username">'


def page(body: str, status: int = 200) -> HttpPage:
    return HttpPage(URL, status, "text/html;charset=UTF-8", body, (URL,))


def run(inputs, body: str, **kwargs):
    return password_field_masked(facts(http=page(body, **kwargs)), inputs)


def form(*fields: str) -> str:
    inner = "".join(fields)
    return f"<!DOCTYPE html><html><body><form method=post>{inner}</form></body></html>"


def lab_login_page(name: str) -> str:
    # The lab Tomcat serves the image's web/index.html as the console root.
    return (host(name).sphere_root() / "web" / "index.html").read_text("utf-8")


def test_registered_with_http_facts():
    assert REGISTRY["password_field_masked"].needs == ("http",)


@pytest.mark.parametrize("name", ["sphere01", "sphere02"])
def test_the_lab_login_pages_mask_the_password(inputs, name):
    # Given the committed logon page of a lab host, when it is judged
    verdict = run(inputs, lab_login_page(name))

    # Then its one password input is of the masked type and empty
    assert verdict.status is Status.PASS
    field = by_item(verdict, 'input name="password"')
    assert (field.observed, field.ok) == ('type="password"', True)
    assert field.source == f"{HOST}: HTTPS GET {URL}"


def test_a_password_field_of_type_text_fails(inputs):
    body = form(USER, '<input name="j_password" type="text">')

    verdict = run(inputs, body)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "j_password").observed == 'type="text"'
    assert by_item(verdict, "masked password input").observed == "none"


@pytest.mark.parametrize(
    "field",
    [
        '<input id="loginPwd">',  # no type attribute: a text field
        '<input name="secret" autocomplete="current-password" type="TEXT">',
        '<input name="Password" type="email">',
    ],
)
def test_fields_named_or_marked_as_password_must_be_masked(inputs, field):
    verdict = run(inputs, form(USER, '<input name="pin" type="password">', field))

    assert verdict.status is Status.FAIL


def test_a_prefilled_password_fails_without_repeating_it(inputs):
    body = form(USER, '<input type="password" name="password" value="Winter2026!">')

    verdict = run(inputs, body)

    assert verdict.status is Status.FAIL
    field = by_item(verdict, 'input name="password"')
    assert field.observed == 'type="password" with a value in the page source'
    assert "Winter2026!" not in verdict.details()


def test_a_hidden_password_field_without_value_is_not_visible(inputs):
    body = form(USER, '<input type="hidden" name="passwordPolicy" value="">')
    body += form('<input type="password" name="password"/>')

    assert run(inputs, body).status is Status.PASS


def test_a_page_without_password_field_is_not_reviewed(inputs):
    body = form(USER, "<p>" + "Sign in with your CAC. " * 20 + "</p>")

    verdict = run(inputs, body)

    assert verdict.status is Status.NOT_REVIEWED
    assert verdict.summary.startswith("The logon page has no password field")


def test_a_script_built_page_is_not_reviewed(inputs):
    body = '<html><body><div id="app"></div><script src="/app.js"></script></body>'

    verdict = run(inputs, body)

    assert verdict.status is Status.NOT_REVIEWED
    assert verdict.summary.startswith("The logon page is built by scripts")


def test_an_error_page_is_an_error(inputs):
    with pytest.raises(CheckError, match="answered HTTP 404, not the logon page"):
        run(inputs, "<html>Not found</html>", status=404)


def test_fields_keep_the_first_of_repeated_attributes():
    (field,) = form_fields('<input type="password" type="text" name="pw">')

    assert field.type == "password"
