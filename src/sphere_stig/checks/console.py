"""V-224763: the console's logon page shows the DoD Notice and Consent banner.

The page is fetched over HTTPS (input ``console_login_path``) and its visible
text (outside scripts, styles and noscript blocks) is searched for several
distinctive phrases of the standard banner. All of them must be there: a page
with only some of them carries an edited or partial banner, which the rule
does not accept.
White space, dash variants and case are normalised first, because HTML may
wrap the text anywhere and write the hyphen of "USG-authorized" as an entity.

A logon page that builds its text in the browser shows nothing to a plain
GET. When the page is empty, or holds scripts and hardly any text, the check
cannot tell whether the banner would appear, so it reports not reviewed with
the manual procedure instead of a finding.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import conclude, require_http
from sphere_stig.outcome import CheckError, Evidence, Verdict, not_reviewed
from sphere_stig.transports.http import HttpPage

# Distinctive phrases of the standard DoD Notice and Consent banner.
BANNER_PHRASES = (
    "U.S. Government (USG) Information System (IS)",
    "USG-authorized use only",
    "consent to the following conditions",
    "routinely intercepts and monitors communications on this IS",
    "inspect and seize data stored on this IS",
    "attorneys, psychotherapists, or clergy",
)
# Below this much visible text, a page with scripts is taken to be rendered
# in the browser.
SCRIPT_PAGE_TEXT = 200

_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")
_SPACE = re.compile(r"\s+")
_INVISIBLE = frozenset({"script", "style", "template", "noscript"})

MANUAL_STEPS = (
    "open the console's logon page in a browser and confirm that the complete DoD "
    "Notice and Consent banner is shown before credentials are asked for; or, "
    "signed in, look under Administration > User Self Service > Page "
    "Customizations for a customization that carries the full banner text"
)


@register("login_banner", needs=("http",))
def login_banner(facts: Facts, inputs: Inputs) -> Verdict:
    page = require_http(facts)
    source = f"{facts.host}: HTTPS GET {page.url}"
    if not 200 <= page.status < 300:
        path = inputs.get("console_login_path") or "/"
        raise CheckError(
            f"{source} answered HTTP {page.status}, not the logon page; check the "
            f'input console_login_path (now "{path}") and that the console is up, '
            "then run again"
        )
    text = visible_text(page.body)
    found = [p for p in BANNER_PHRASES if _normalised(p) in text]
    missing = [p for p in BANNER_PHRASES if p not in found]
    fetched = _fetched(page, source)

    if missing and _rendered_in_browser(page.body, text):
        return not_reviewed(
            "The logon page is built by scripts in the browser, so its raw HTML "
            f"cannot show the banner; verify by hand: {MANUAL_STEPS}",
            fetched,
            Evidence(
                item="page text",
                observed=(
                    f"{len(text)} characters of text outside scripts"
                    + (", with script elements" if _has_script(page.body) else "")
                ),
                expected="the banner text in the page",
                source=source,
            ),
        )
    if not missing:
        observed = f"all {len(BANNER_PHRASES)} banner phrases found"
    elif found:
        observed = "only part of the banner: missing " + "; ".join(
            f'"{p}"' for p in missing
        )
    else:
        observed = "none of the banner phrases found"
    banner = Evidence(
        item="DoD Notice and Consent banner",
        observed=observed,
        expected="every phrase: " + "; ".join(f'"{p}"' for p in BANNER_PHRASES),
        source=source,
        ok=not missing,
    )
    return conclude(
        "The console logon page shows the DoD Notice and Consent banner",
        "The console logon page does not show the DoD Notice and Consent banner",
        [fetched, banner],
    )


def _fetched(page: HttpPage, source: str) -> Evidence:
    observed = f"HTTP {page.status} for {page.url}"
    if len(page.history) > 1:
        observed += f" (redirected from {page.history[0]})"
    return Evidence(
        item="console logon page",
        observed=observed,
        expected="recorded for the reviewer",
        source=source,
    )


def _rendered_in_browser(body: str, text: str) -> bool:
    if not body.strip():
        return True
    return _has_script(body) and len(text) < SCRIPT_PAGE_TEXT


def _has_script(body: str) -> bool:
    return "<script" in body.lower()


def _normalised(text: str) -> str:
    text = _DASHES.sub("-", text.replace("\xa0", " ").replace("\u202f", " "))
    return _SPACE.sub(" ", text).strip().casefold()


class _TextOnly(HTMLParser):
    """Collects the text a browser shows, skipping scripts, styles, templates."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _INVISIBLE:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(body: str) -> str:
    """The page's text outside scripts and styles, normalised for searching."""
    parser = _TextOnly()
    parser.feed(body)
    parser.close()
    return _normalised(" ".join(parser.parts))
