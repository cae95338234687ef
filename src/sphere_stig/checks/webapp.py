"""The web applications: session timeout, error page, TLS constraints, webapps.

Two deployment descriptors matter and are never mixed up: the Sphere
application's own ``web\\WEB-INF\\web.xml`` and Tomcat's global
``Tomcat\\conf\\web.xml``, whose settings every application inherits unless it
sets its own.

Session timeout (V-224761, V-224774): the console field is taken to be the
``session-timeout`` of these descriptors (an inference). Tomcat uses the
application's value when it has one, else the global one, else its built-in
30 minutes; zero or less means sessions never expire. A value that is not a
whole number makes Tomcat refuse the descriptor, so it is an error here.

Error page (V-224788): Tomcat keeps one error page per exception type, the
last one declared, so that is the one judged.

Transport constraints (V-224793): for each request the Servlet container
applies the constraints whose URL pattern matches best, and a request may use
plain HTTP as soon as one of them has no transport guarantee. So the
"Unsecure" list is exactly the set of paths agents may reach without TLS:
a path missing from it breaks agents, and a path beyond the ten widens the
exemption, as does any other constraint without a guarantee. Only the global
descriptor is read; the STIG puts the constraints there.

Webapps (V-224781): only ``manager`` and ``host-manager`` may remain in
Tomcat's webapps folder, as folders or WAR files; the Sphere application
itself runs from the install root's ``web`` folder.
"""

from __future__ import annotations

import ntpath
import re

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import (
    and_list,
    conclude,
    file_source,
    load_web_xml,
    read_remote,
    require_windows,
)
from sphere_stig.outcome import CheckError, Evidence, Verdict
from sphere_stig.parsers.webxml import ErrorPage, SecurityConstraint, WebXml

MAX_SESSION_MINUTES = 15
TOMCAT_SESSION_MINUTES = 30
EXCEPTION_TYPE = "java.lang.Exception"
EXCEPTION_PAGE = "/exception.jsp"
CONFIDENTIAL = "CONFIDENTIAL"
# The agent, client, remote-control and traffic-push paths V-224793 exempts.
UNSECURE_PATTERNS = (
    "/BNator/agent/*",
    "/app/agent/*",
    "/app/admin/agentinstaller.jnlp",
    "/app/clients/*",
    "/app/data/*",
    "/rc/*",
    "/BNator/uss/trafficinfo/*",
    "/BNator/data/mds/trafficpush",
    "/BNator/favorites/*",
    "/app/resource/*",
)
ALLOWED_WEBAPPS = ("manager", "host-manager")

_WHOLE_NUMBER = re.compile(r"^[+-]?[0-9]+$")


# -- V-224761, V-224774 -----------------------------------------------------


@register("session_timeout", needs=("windows",))
def session_timeout(facts: Facts, inputs: Inputs) -> Verdict:
    sphere, sphere_source = load_web_xml(facts, inputs, "sphere_web_xml")
    tomcat, tomcat_source = load_web_xml(facts, inputs, "tomcat_web_xml")
    app = _minutes(sphere)
    default = _minutes(tomcat)

    if app is not None:
        effective, decided_by = app, sphere_source
        origin = "the Sphere application's web.xml"
    elif default is not None:
        effective, decided_by = default, tomcat_source
        origin = "Tomcat's global web.xml (the application sets none)"
    else:
        effective, decided_by = TOMCAT_SESSION_MINUTES, tomcat_source
        origin = "Tomcat's built-in default (neither web.xml sets one)"
    evidence = [
        _timeout_line("the Sphere application's web.xml", sphere, sphere_source),
        _timeout_line(
            "Tomcat's global web.xml",
            tomcat,
            tomcat_source,
            overridden=app is not None,
        ),
        Evidence(
            item="effective console session timeout",
            observed=f"{_describe_minutes(effective)}, from {origin}",
            expected=f"1 to {MAX_SESSION_MINUTES} minutes",
            source=decided_by,
            ok=0 < effective <= MAX_SESSION_MINUTES,
        ),
        Evidence(
            item="console setting behind the rule",
            observed=(
                "the STIG names only the session timeout on the console's Apache "
                "Tomcat Settings page; that it is stored as session-timeout in "
                "these web.xml files is inferred, not confirmed on a reference "
                "install"
            ),
            expected="recorded for the reviewer",
            source="rule catalog note",
        ),
    ]
    return conclude(
        f"Console sessions expire after {_describe_minutes(effective)} without "
        "activity",
        f"Console sessions do not expire within {MAX_SESSION_MINUTES} idle minutes",
        evidence,
    )


def _minutes(web: WebXml) -> int | None:
    """The descriptor's session-timeout in minutes, None when it sets none."""
    if web.problems:
        raise CheckError(
            f"{web.source}: {'; '.join(web.problems)}. Repair the descriptor "
            "and run again"
        )
    raw = web.session_timeout_raw
    if raw is None:
        return None
    if not _WHOLE_NUMBER.match(raw):
        raise CheckError(
            f'{web.source}: <session-timeout> holds "{raw}", which is not a whole '
            "number of minutes; Tomcat cannot read the descriptor either. Write "
            "the timeout as a number and run again"
        )
    return int(raw)


def _timeout_line(
    label: str, web: WebXml, source: str, overridden: bool = False
) -> Evidence:
    minutes = _minutes(web)
    if minutes is None:
        observed = "no session-timeout"
    else:
        observed = f"session-timeout {web.session_timeout_raw}"
        observed += f" ({_describe_minutes(minutes)})"
        if overridden:
            observed += "; the application's own value takes precedence"
    return Evidence(
        item=f"session-timeout in {label}",
        observed=observed,
        expected="recorded; the effective value is judged below",
        source=source,
    )


def _describe_minutes(minutes: int) -> str:
    if minutes <= 0:
        return f"{minutes}: sessions never expire"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# -- V-224788 ---------------------------------------------------------------


@register("error_page", needs=("windows",))
def error_page(facts: Facts, inputs: Inputs) -> Verdict:
    web, source = load_web_xml(facts, inputs, "sphere_web_xml")
    pages = [p for p in web.error_pages if p.exception_type == EXCEPTION_TYPE]
    item = f"error-page for {EXCEPTION_TYPE}"
    expected = f"an active error-page sending {EXCEPTION_TYPE} to {EXCEPTION_PAGE}"
    if not pages:
        observed = f"no active error-page for {EXCEPTION_TYPE}"
        data = read_remote(facts, inputs, "sphere_web_xml")
        if data is not None and _mentions(data, EXCEPTION_TYPE):
            observed += " (the file names it only inside a comment)"
        others = _other_pages(web.error_pages)
        if others:
            observed += f"; other error pages: {others}"
        evidence = [Evidence(item, observed, expected, source, ok=False)]
    else:
        page = pages[-1]
        ok = page.location == EXCEPTION_PAGE
        observed = f"{EXCEPTION_TYPE} goes to {page.location or '(no location)'}"
        if len(pages) > 1:
            observed += (
                f"; {len(pages)} error pages name this type and Tomcat keeps the "
                "last one"
            )
        evidence = [Evidence(item, observed, expected, source, ok=ok)]
    return conclude(
        f"Uncaught exceptions show {EXCEPTION_PAGE}, not a stack trace",
        "Uncaught exceptions are not sent to the generic error page",
        evidence,
    )


def _other_pages(pages: tuple[ErrorPage, ...]) -> str:
    described = [
        f"{p.error_code or p.exception_type or 'default'} -> {p.location}"
        for p in pages
    ]
    return ", ".join(described)


def _mentions(data: bytes, text: str) -> bool:
    return any(
        text.encode(codec) in data for codec in ("utf-8", "utf-16-le", "utf-16-be")
    )


# -- V-224793 ---------------------------------------------------------------


@register("transport_security_constraints", needs=("windows",))
def transport_security_constraints(facts: Facts, inputs: Inputs) -> Verdict:
    web, source = load_web_xml(facts, inputs, "tomcat_web_xml")
    evidence = [_secure(web, source), _unsecure(web, source)]
    evidence.extend(_other_exemptions(web, source))
    return conclude(
        "Tomcat demands TLS everywhere except the ten agent and client paths",
        "Tomcat's transport constraints differ from the STIG's",
        evidence,
    )


def _named(constraint: SecurityConstraint, name: str) -> bool:
    return any(n.casefold() == name.casefold() for n in constraint.resource_names)


def _no_guarantee(constraint: SecurityConstraint) -> bool:
    # Tomcat's RealmBase treats a missing guarantee and exactly "NONE" alike.
    return constraint.transport_guarantee in (None, "NONE")


def _secure(web: WebXml, source: str) -> Evidence:
    item = 'security constraint "Secure"'
    expected = (
        f"a constraint named Secure on /* with transport-guarantee {CONFIDENTIAL}"
    )
    candidates = [c for c in web.security_constraints if _named(c, "Secure")]
    if not candidates:
        return Evidence(item, "no constraint named Secure", expected, source, False)
    problems_by_candidate = [_secure_problems(c) for c in candidates]
    for problems in problems_by_candidate:
        if not problems:
            return Evidence(
                item,
                f"Secure covers /* with transport-guarantee {CONFIDENTIAL}",
                expected,
                source,
                ok=True,
            )
    observed = "Secure is present but " + "; ".join(problems_by_candidate[0])
    return Evidence(item, observed, expected, source, ok=False)


def _secure_problems(constraint: SecurityConstraint) -> list[str]:
    problems = []
    collections = [
        c
        for c in constraint.collections
        if c.name is not None and c.name.casefold() == "secure"
    ]
    if not any("/*" in c.url_patterns for c in collections):
        patterns = ", ".join(p for c in collections for p in c.url_patterns)
        problems.append(f"covers {patterns or 'no URL pattern'} instead of /*")
    methods = [m for c in collections for m in c.http_methods]
    omitted = [m for c in collections for m in c.http_method_omissions]
    if methods:
        problems.append(
            f"applies only to the methods {', '.join(methods)}, so other methods "
            "may use plain HTTP"
        )
    if omitted:
        problems.append(
            f"omits the methods {', '.join(omitted)}, which may use plain HTTP"
        )
    guarantee = constraint.transport_guarantee
    if guarantee != CONFIDENTIAL:
        written = "no transport-guarantee" if guarantee is None else guarantee
        problems.append(f"has {written} instead of {CONFIDENTIAL}")
    return problems


def _unsecure(web: WebXml, source: str) -> Evidence:
    item = 'security constraint "Unsecure"'
    expected = "a constraint named Unsecure listing exactly the ten agent/client paths"
    constraints = [c for c in web.security_constraints if _named(c, "Unsecure")]
    if not constraints:
        return Evidence(
            item,
            "no constraint named Unsecure (agents and clients cannot use their "
            "plain-HTTP paths)",
            expected,
            source,
            ok=False,
        )
    found = {
        p
        for c in constraints
        for collection in c.collections
        if collection.name is not None and collection.name.casefold() == "unsecure"
        for p in collection.url_patterns
    }
    missing = [p for p in UNSECURE_PATTERNS if p not in found]
    extra = sorted(found - set(UNSECURE_PATTERNS))
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(
            f"extra {', '.join(extra)} (each extra path widens what may travel "
            "without TLS)"
        )
    if not parts:
        observed = f"Unsecure lists exactly the {len(UNSECURE_PATTERNS)} paths"
    else:
        observed = "Unsecure " + "; ".join(parts)
    guarded = [c.transport_guarantee for c in constraints if not _no_guarantee(c)]
    if guarded:
        observed += (
            f"; note: it carries transport-guarantee {guarded[0]}, so these paths "
            "require TLS after all"
        )
    return Evidence(item, observed, expected, source, ok=not parts)


def _other_exemptions(web: WebXml, source: str) -> list[Evidence]:
    """Constraints besides Secure/Unsecure that let their paths skip TLS."""
    evidence = []
    for constraint in web.security_constraints:
        if _named(constraint, "Secure") or _named(constraint, "Unsecure"):
            continue
        if not _no_guarantee(constraint) or not constraint.url_patterns:
            continue
        name = and_list(constraint.resource_names) or "(unnamed)"
        patterns = ", ".join(constraint.url_patterns)
        evidence.append(
            Evidence(
                item=f'security constraint "{name}"',
                observed=(
                    f"no transport guarantee on {patterns}, which lets these paths "
                    "use plain HTTP as well"
                ),
                expected="no plain-HTTP paths beyond the Unsecure list",
                source=source,
                ok=False,
            )
        )
    return evidence


# -- V-224781 ---------------------------------------------------------------


@register("webapps_minimal", needs=("windows",))
def webapps_minimal(facts: Facts, inputs: Inputs) -> Verdict:
    windows = require_windows(facts)
    folder = ntpath.join(inputs.sphere_root, r"Tomcat\webapps")
    source = file_source(facts.host, folder)
    listing = [w for w in windows.warnings if w.startswith("webapps:")]
    if listing:
        raise CheckError(
            f"{source}: the folder could not be listed ({'; '.join(listing)}); give "
            "the audit account read access to it and run again"
        )
    if windows.webapps is None:
        evidence = [_absent_webapps(facts, inputs, source)]
    else:
        evidence = [_webapps(windows.webapps, source)]
    return conclude(
        "Tomcat's webapps folder holds nothing but manager and host-manager",
        "Tomcat's webapps folder holds applications that must be removed",
        evidence,
    )


def _absent_webapps(facts: Facts, inputs: Inputs, source: str) -> Evidence:
    # server.xml is read (and its absence reported) first: when it is missing
    # too, the install root is wrong rather than the folder removed.
    read_remote(facts, inputs, "server_xml")
    return Evidence(
        item="Tomcat webapps folder",
        observed="the folder does not exist, so no application is deployed from it",
        expected=f"nothing but {and_list(ALLOWED_WEBAPPS)}",
        source=source,
        ok=True,
    )


def _webapps(entries: tuple[str, ...], source: str) -> Evidence:
    allowed = {a.casefold() for a in ALLOWED_WEBAPPS}
    extras = [e for e in entries if _application(e) not in allowed]
    listed = ", ".join(entries) if entries else "nothing"
    if extras:
        observed = f"extra entries {', '.join(extras)} (folder holds {listed})"
    else:
        observed = f"only {listed}"
    return Evidence(
        item="Tomcat webapps folder",
        observed=observed,
        expected=f"nothing but {and_list(ALLOWED_WEBAPPS)} (folders or .war files)",
        source=source,
        ok=not extras,
    )


def _application(entry: str) -> str:
    """The application an entry deploys: a WAR file counts by its stem."""
    name = entry.casefold()
    return name[: -len(".war")] if name.endswith(".war") else name
