"""login_banner (V-224763): the DoD Notice and Consent banner on the logon page."""

import pytest
from check_facts import HOST, by_item, facts

from sphere_stig.checks import REGISTRY, Inputs
from sphere_stig.checks.console import BANNER_PHRASES, login_banner
from sphere_stig.outcome import CheckError, Status
from sphere_stig.transports.http import HttpPage

URL = "https://sphere01.lab.example/"
# The standard banner's opening, as a Sphere page customization would show it
# (HTML wrapped mid-sentence, an entity for the hyphen, nbsp between words).
BANNER = """<section id="banner"><h1>Notice and Consent</h1>
<p>You are accessing a U.S. Government (USG) Information
   System (IS) that is provided for USG&#8209;authorized use only.</p>
<p>By using this IS (which includes any device attached to this IS), you
consent to the following conditions:</p><ul>
<li>The USG routinely intercepts and monitors communications on this IS for
purposes including, but not limited to, penetration testing.</li>
<li>At any time, the USG may inspect and seize data stored on this IS.</li>
<li>... related to personal representation or services by
attorneys,&nbsp;psychotherapists, or clergy, and their assistants.</li></ul>
</section>"""
FORM = '<form><input name="username"><input name="password" type="password"></form>'


def page(body: str, status: int = 200, history=(URL,)) -> HttpPage:
    return HttpPage(URL, status, "text/html;charset=UTF-8", body, tuple(history))


def run(inputs, body: str, **kwargs):
    return login_banner(facts(http=page(body, **kwargs)), inputs)


def html(inner: str) -> str:
    head = "<head><title>ISEC7 SPHERE</title></head>"
    return f"<!DOCTYPE html><html>{head}<body>{inner}</body></html>"


def test_registered_with_http_facts():
    assert REGISTRY["login_banner"].needs == ("http",)


def test_banner_passes(inputs):
    verdict = run(inputs, html(BANNER + FORM))

    assert verdict.status is Status.PASS
    fetched = by_item(verdict, "logon page")
    assert (fetched.observed, fetched.source, fetched.ok) == (
        f"HTTP 200 for {URL}",
        f"{HOST}: HTTPS GET {URL}",
        None,
    )
    assert by_item(verdict, "banner").observed == "all 6 banner phrases found"


def test_page_without_banner_fails(inputs):
    body = html(
        "<main><h2>ISEC7 SPHERE</h2>" + FORM + "<p>" + "Welcome. " * 40 + "</p></main>"
    )

    verdict = run(inputs, body)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "banner").observed == "none of the banner phrases found"


def test_partial_banner_fails_and_names_the_missing_phrases(inputs):
    body = html(BANNER.split("<ul>")[0] + FORM)

    verdict = run(inputs, body)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "banner").observed == (
        'only part of the banner: missing "routinely intercepts and monitors '
        'communications on this IS"; "inspect and seize data stored on this IS"; '
        '"attorneys, psychotherapists, or clergy"'
    )


def test_banner_inside_a_comment_or_script_does_not_count(inputs):
    hidden = f"<!-- {BANNER} --><script>var banner = `{BANNER}`;</script>"
    body = html(hidden + FORM + "<p>" + "Sign in to continue. " * 20 + "</p>")

    verdict = run(inputs, body)

    assert verdict.status is Status.FAIL


def test_script_rendered_page_is_not_reviewed(inputs):
    # Given a single-page application shell: scripts and almost no text
    body = html('<div id="app"></div><script src="/app/main.js"></script>')

    verdict = run(inputs, body)

    assert verdict.status is Status.NOT_REVIEWED
    assert "Page Customizations" in verdict.summary
    assert by_item(verdict, "page text").observed.endswith("with script elements")


def test_empty_page_is_not_reviewed(inputs):
    assert run(inputs, "").status is Status.NOT_REVIEWED


def test_script_page_that_shows_the_banner_passes(inputs):
    body = html(BANNER + '<script src="/app/main.js"></script>')

    assert run(inputs, body).status is Status.PASS


def test_redirects_are_recorded(inputs):
    verdict = run(
        inputs, html(BANNER), history=("https://sphere01.lab.example/app", URL)
    )

    assert by_item(verdict, "logon page").observed == (
        f"HTTP 200 for {URL} (redirected from https://sphere01.lab.example/app)"
    )


def test_error_status_is_an_error_naming_the_input():
    inputs = Inputs(values={"console_login_path": "/login"})

    with pytest.raises(CheckError, match='console_login_path \\(now "/login"\\)'):
        run(inputs, "Not Found", status=404)


def test_case_and_spacing_do_not_matter(inputs):
    shouted = " ".join(p.upper().replace(" ", "\n  ") for p in BANNER_PHRASES)

    assert run(inputs, html(f"<p>{shouted}</p>")).status is Status.PASS


def test_missing_page_is_an_error(inputs):
    with pytest.raises(CheckError, match="needs=\\('http',\\)"):
        login_banner(facts(), inputs)
