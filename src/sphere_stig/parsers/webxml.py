"""Deployment descriptors (``web.xml``): session timeout, error pages, constraints.

Two descriptors matter: Tomcat's global ``conf/web.xml`` (defaults for every
application, and the Secure/Unsecure constraints of V-224793) and Sphere's own
``web/WEB-INF/web.xml`` (the error page of V-224788). Both use the Java EE or
Jakarta EE namespace, which is ignored here: only local names count.

Values are trimmed the way the Servlet specification's schema does
(``xsd:token`` and friends): leading and trailing white space is not part of
a URL pattern or an exception type.
"""

from __future__ import annotations

from dataclasses import dataclass

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.xmlsafe import (
    Element,
    child,
    child_text,
    children,
    local_name,
    parse_xml,
)


@dataclass(frozen=True)
class ErrorPage:
    error_code: str | None
    exception_type: str | None
    location: str | None


@dataclass(frozen=True)
class WebResourceCollection:
    name: str | None
    url_patterns: tuple[str, ...]
    http_methods: tuple[str, ...] = ()
    http_method_omissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecurityConstraint:
    display_name: str | None
    collections: tuple[WebResourceCollection, ...]
    # None when there is no <user-data-constraint>, which the Servlet
    # specification treats as NONE.
    transport_guarantee: str | None
    # None when there is no <auth-constraint> (no authentication required);
    # an empty tuple when it is present but names no role (access denied).
    auth_roles: tuple[str, ...] | None

    @property
    def resource_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.collections if c.name is not None)

    @property
    def url_patterns(self) -> tuple[str, ...]:
        return tuple(p for c in self.collections for p in c.url_patterns)


@dataclass(frozen=True)
class WebXml:
    source: str
    # The <session-timeout> text as written, and as minutes when it is an
    # integer. Zero or less means sessions never time out.
    session_timeout_raw: str | None
    session_timeout: int | None
    error_pages: tuple[ErrorPage, ...]
    security_constraints: tuple[SecurityConstraint, ...]
    # Things a servlet container would reject or warn about.
    problems: tuple[str, ...] = ()

    def constraints_named(self, resource_name: str) -> tuple[SecurityConstraint, ...]:
        """Constraints with a web-resource-collection called ``resource_name``."""
        return tuple(
            c for c in self.security_constraints if resource_name in c.resource_names
        )

    def error_page_for_exception(self, exception_type: str) -> ErrorPage | None:
        for page in self.error_pages:
            if page.exception_type == exception_type:
                return page
        return None


def parse_web_xml(data: bytes, source: str) -> WebXml:
    root = parse_xml(data, source)
    if local_name(root.tag) != "web-app":
        raise CheckError(
            f"{source}: the root element is <{local_name(root.tag)}>, not <web-app>; "
            "this is not a deployment descriptor. Check the inventory's sphere_root "
            "and the file at that path"
        )
    problems: list[str] = []
    session_configs = children(root, "session-config")
    if len(session_configs) > 1:
        problems.append(
            f"{len(session_configs)} <session-config> elements; the Servlet "
            "specification allows one and Tomcat refuses the application"
        )
    raw_timeout = (
        child_text(session_configs[0], "session-timeout") if session_configs else None
    )
    return WebXml(
        source=source,
        session_timeout_raw=raw_timeout,
        session_timeout=_as_int(raw_timeout),
        error_pages=tuple(_error_page(e) for e in children(root, "error-page")),
        security_constraints=tuple(
            _constraint(e) for e in children(root, "security-constraint")
        ),
        problems=tuple(problems),
    )


def _as_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _texts(element: Element, name: str) -> tuple[str, ...]:
    return tuple((c.text or "").strip() for c in children(element, name))


def _error_page(element: Element) -> ErrorPage:
    return ErrorPage(
        error_code=child_text(element, "error-code"),
        exception_type=child_text(element, "exception-type"),
        location=child_text(element, "location"),
    )


def _constraint(element: Element) -> SecurityConstraint:
    collections = tuple(
        WebResourceCollection(
            name=child_text(c, "web-resource-name"),
            url_patterns=_texts(c, "url-pattern"),
            http_methods=_texts(c, "http-method"),
            http_method_omissions=_texts(c, "http-method-omission"),
        )
        for c in children(element, "web-resource-collection")
    )
    user_data = child(element, "user-data-constraint")
    guarantee = (
        child_text(user_data, "transport-guarantee") if user_data is not None else None
    )
    auth = child(element, "auth-constraint")
    return SecurityConstraint(
        display_name=child_text(element, "display-name"),
        collections=collections,
        transport_guarantee=guarantee,
        auth_roles=_texts(auth, "role-name") if auth is not None else None,
    )
