"""The console's logon page: the DoD banner (V-224763) and the masked password.

V-224763: the logon page shows the DoD Notice and Consent banner.

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

AUTH-02 (STIG overview, not a rule): the same page asks for the password in
an ``<input type="password">``, which browsers mask, and carries no password
value in its HTML. A field whose name, id or autocomplete says password but
whose type is another one shows the password as it is typed: a finding. A
page without any password field cannot be judged (a script may add the form,
or the console may sign in with certificates only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    _require_success(page, inputs, source)
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


# -- AUTH-02 ------------------------------------------------------------------

# Names, ids and autocomplete tokens that mark a field as a password field.
_PASSWORD_WORDS = re.compile(r"pass(?:word|wd)|pwd", re.IGNORECASE)
_PASSWORD_AUTOCOMPLETE = frozenset({"current-password", "new-password"})

PASSWORD_MANUAL_STEPS = (
    "open the console's logon page in a browser, type into the password field "
    "and confirm that only masking characters appear"
)


@dataclass(frozen=True)
class FormField:
    """An ``<input>`` of the page, with the attributes that decide masking."""

    type: str  # lower case; "text" when the attribute is absent
    name: str
    id: str
    autocomplete: str
    has_value: bool

    @property
    def label(self) -> str:
        if self.name:
            return f'input name="{self.name}"'
        return f'input id="{self.id}"' if self.id else "input without name or id"

    @property
    def password_like(self) -> bool:
        tokens = set(self.autocomplete.lower().split())
        return (
            self.type == "password"
            or bool(tokens & _PASSWORD_AUTOCOMPLETE)
            or bool(
                _PASSWORD_WORDS.search(self.name) or _PASSWORD_WORDS.search(self.id)
            )
        )


@register("password_field_masked", needs=("http",))
def password_field_masked(facts: Facts, inputs: Inputs) -> Verdict:
    page = require_http(facts)
    source = f"{facts.host}: HTTPS GET {page.url}"
    _require_success(page, inputs, source)
    fields = [f for f in form_fields(page.body) if f.password_like]
    fetched = _fetched(page, source)

    if not fields:
        scripted = _rendered_in_browser(page.body, visible_text(page.body))
        why = (
            "The logon page is built by scripts in the browser"
            if scripted
            else "The logon page has no password field"
        )
        return not_reviewed(
            f"{why}, so its HTML cannot show how the password is entered; verify "
            f"by hand: {PASSWORD_MANUAL_STEPS}",
            fetched,
            Evidence(
                item="password field",
                observed="no input of type password, or named as one, in the page",
                expected='an <input type="password">',
                source=source,
            ),
        )
    evidence = [fetched, *(_field_evidence(f, source) for f in fields)]
    if not any(f.type == "password" for f in fields):
        evidence.append(
            Evidence(
                item="masked password input",
                observed="none",
                expected='at least one <input type="password">',
                source=source,
                ok=False,
            )
        )
    return conclude(
        "The console logon page masks the password as it is typed",
        "The console logon page can show a password in readable form",
        evidence,
    )


def _field_evidence(field: FormField, source: str) -> Evidence:
    # The value itself is never repeated: it may be a real password.
    masked = field.type in ("password", "hidden")
    observed = f'type="{field.type}"'
    if field.has_value:
        observed += " with a value in the page source"
    return Evidence(
        item=field.label,
        observed=observed,
        expected='type="password" without a value',
        source=source,
        ok=masked and not field.has_value,
    )


def _require_success(page: HttpPage, inputs: Inputs, source: str) -> None:
    if not 200 <= page.status < 300:
        path = inputs.get("console_login_path") or "/"
        raise CheckError(
            f"{source} answered HTTP {page.status}, not the logon page; check the "
            f'input console_login_path (now "{path}") and that the console is up, '
            "then run again"
        )


class _FormFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[FormField] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag != "input":
            return
        # HTML keeps the first of repeated attributes.
        values: dict[str, str | None] = {}
        for key, value in attrs:
            values.setdefault(key, value)
        self.fields.append(
            FormField(
                type=(values.get("type") or "text").strip().lower(),
                name=values.get("name") or "",
                id=values.get("id") or "",
                autocomplete=values.get("autocomplete") or "",
                has_value=bool(values.get("value")),
            )
        )

    handle_startendtag = handle_starttag


def form_fields(body: str) -> list[FormField]:
    """Every ``<input>`` of the page, in document order."""
    parser = _FormFields()
    parser.feed(body)
    parser.close()
    return parser.fields
