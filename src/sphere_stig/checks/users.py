"""V-224780 and V-224791: Tomcat's user database and how it is protected.

Passwords never leave the parser: each is reduced to its storage form
(cleartext, a hex digest, ``salt$iterations$digest``, a ``{SHA}``-style
digest), and the evidence names only that form.

Hashing (V-224780) needs two things. Every password in tomcat-users.xml must
be stored as a digest, and the realm that reads the file (a
UserDatabaseRealm) must carry a CredentialHandler with a SHA-2 algorithm:
PBKDF2 with HMAC-SHA512 (the STIG's check; HMAC-SHA256 is accepted as the
SHA-256 the rule's text allows) through SecretKeyCredentialHandler, or
SHA-256/SHA-512 through MessageDigestCredentialHandler (the STIG's fix).
A realm without a handler compares passwords as cleartext, and a handler
set on an enclosing LockOutRealm is not used by the realms inside it
(CombinedRealm warns about it and keeps its own). Unsalted 128- or 160-bit
digests and ``{SHA}``/``{MD5}`` forms can only be MD5 or SHA-1, so they fail.

Manager role (V-224791): some user must hold manager-gui or manager-script,
directly or through a group. The Tomcat 6 role ``manager`` no longer opens
the manager application and is pointed out when found.
"""

from __future__ import annotations

from collections.abc import Iterator

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import (
    and_list,
    conclude,
    load_server_config,
    load_tomcat_users,
    refuse_unresolved,
)
from sphere_stig.outcome import Evidence, Verdict
from sphere_stig.parsers.tomcat import (
    CredentialHandler,
    Realm,
    ServerConfig,
    attribute_value,
)
from sphere_stig.parsers.users import PasswordForm, PasswordKind, TomcatUser

USER_DATABASE_REALM = "org.apache.catalina.realm.UserDatabaseRealm"
SECRET_KEY_HANDLER = "org.apache.catalina.realm.SecretKeyCredentialHandler"
MESSAGE_DIGEST_HANDLER = "org.apache.catalina.realm.MessageDigestCredentialHandler"
NESTED_HANDLER = "org.apache.catalina.realm.NestedCredentialHandler"
# Java algorithm names are matched without regard to case.
PBKDF2_ALGORITHMS = ("PBKDF2WithHmacSHA512", "PBKDF2WithHmacSHA256")
DIGEST_ALGORITHMS = ("SHA-512", "SHA-256")
DEFAULT_SECRET_KEY_ALGORITHM = "PBKDF2WithHmacSHA1"
MANAGER_ROLES = ("manager-gui", "manager-script")
_HANDLER_EXPECTED = (
    "a CredentialHandler on the UserDatabaseRealm: SecretKeyCredentialHandler "
    "with PBKDF2WithHmacSHA512 (or PBKDF2WithHmacSHA256), or "
    "MessageDigestCredentialHandler with SHA-256 or SHA-512"
)
# Digest sizes (bits) that can only come from MD5 or SHA-1.
_LEGACY_DIGEST_BITS = frozenset({128, 160})


# -- V-224780 ---------------------------------------------------------------


@register("tomcat_users_hashed", needs=("windows",))
def tomcat_users_hashed(facts: Facts, inputs: Inputs) -> Verdict:
    users, users_source = load_tomcat_users(facts, inputs)
    config, source = load_server_config(facts, inputs)

    evidence = [_stored_form(user, users_source) for user in users.users]
    evidence.extend(_handlers(config, source))
    return conclude(
        "Tomcat's users are stored as SHA-2 digests and the user database realm "
        "hashes with a SHA-2 credential handler",
        "Tomcat manager passwords are not protected by a SHA-2 hash",
        evidence,
    )


def _stored_form(user: TomcatUser, source: str) -> Evidence:
    form = user.password
    observed, ok = _judge_form(form)
    return Evidence(
        item=f'password of Tomcat user "{user.name or "(unnamed)"}"',
        observed=observed,
        expected="a SHA-2 digest (salt$iterations$digest from Tomcat's digest tool)",
        source=source,
        ok=ok,
    )


def _judge_form(form: PasswordForm) -> tuple[str, bool | None]:
    if form.kind is PasswordKind.ABSENT:
        return "no password attribute (the user cannot log on with a password)", None
    if form.kind is PasswordKind.EMPTY:
        return "empty password, nothing hashed", False
    if form.kind is PasswordKind.CLEARTEXT:
        return "cleartext (not shown)", False
    if form.kind is PasswordKind.PREFIXED_DIGEST:
        return (
            "digest form, but a {SHA}/{SSHA}/{MD5} one, which is SHA-1 or MD5, "
            "not SHA-2",
            False,
        )
    if form.kind is PasswordKind.HEX_DIGEST and form.digest_bits in _LEGACY_DIGEST_BITS:
        return (
            f"digest form, but {form.digest_bits} bits long: the size of MD5 or "
            "SHA-1, not SHA-2",
            False,
        )
    return f"digest form: {form.describe()}", True


def _handlers(config: ServerConfig, source: str) -> list[Evidence]:
    refuse_unresolved(
        (p for realm in config.realms() for p in realm.placeholders),
        ("className", "resourceName"),
        source,
    )
    refuse_unresolved(
        (p for p in config.placeholders if "CredentialHandler" in p.element),
        ("className", "algorithm"),
        source,
    )
    found = [
        (realm, outer)
        for realm, outer in _realms_with_outer(config)
        if realm.class_name == USER_DATABASE_REALM and realm.active
    ]
    if not found:
        return [
            Evidence(
                item="CredentialHandler of the user database realm",
                observed=(
                    "no active UserDatabaseRealm in server.xml, so no credential "
                    "handler applies to tomcat-users.xml"
                ),
                expected=_HANDLER_EXPECTED,
                source=source,
                ok=False,
            )
        ]
    return [_handler(realm, outer, source) for realm, outer in found]


def _realms_with_outer(config: ServerConfig) -> Iterator[tuple[Realm, list[Realm]]]:
    """Every realm with the realms that enclose it, innermost last."""

    def walk(realm: Realm, outer: list[Realm]) -> Iterator[tuple[Realm, list[Realm]]]:
        yield realm, outer
        for nested in realm.realms:
            yield from walk(nested, [*outer, realm])

    for container in config.containers():
        for realm in container.realms:
            yield from walk(realm, [])


def _handler(realm: Realm, outer: list[Realm], source: str) -> Evidence:
    resource = attribute_value(realm.attributes, "resourceName") or "UserDatabase"
    item = (
        f'CredentialHandler of the UserDatabaseRealm ("{resource}") in '
        f"{realm.container}"
    )
    handler = realm.credential_handler
    if handler is None:
        observed = (
            "no CredentialHandler, so Tomcat compares passwords as cleartext "
            "(MessageDigestCredentialHandler without an algorithm)"
        )
        unused = [o for o in outer if o.credential_handler is not None]
        if unused:
            observed += (
                f"; the handler on the enclosing {unused[-1].short_name} is not "
                "used by the realms inside it"
            )
        return Evidence(item, observed, _HANDLER_EXPECTED, source, ok=False)
    observed, ok = _judge_handler(handler)
    return Evidence(item, observed, _HANDLER_EXPECTED, source, ok=ok)


def _judge_handler(handler: CredentialHandler) -> tuple[str, bool]:
    name = handler.class_name
    algorithm = attribute_value(handler.attributes, "algorithm")
    if not name:
        return (
            "a CredentialHandler without className, which Tomcat cannot create "
            "(the STIG's check quotes it that way; the element needs className)",
            False,
        )
    short = name.rsplit(".", 1)[-1]
    if name == NESTED_HANDLER:
        judged = [_judge_handler(h) for h in handler.nested]
        if not judged:
            return "NestedCredentialHandler with no handler inside", False
        parts = "; ".join(text for text, _ in judged)
        return f"NestedCredentialHandler, each one able to log on: {parts}", all(
            ok for _, ok in judged
        )
    if name == SECRET_KEY_HANDLER:
        used = algorithm or DEFAULT_SECRET_KEY_ALGORITHM
        ok = used.casefold() in {a.casefold() for a in PBKDF2_ALGORITHMS}
        return f"{short} {_algorithm_text(algorithm, used)}{_extras(handler)}", ok
    if name == MESSAGE_DIGEST_HANDLER:
        if algorithm is None:
            return (
                f"{short} without an algorithm, so passwords are compared as cleartext",
                False,
            )
        ok = algorithm.casefold() in {a.casefold() for a in DIGEST_ALGORITHMS}
        return f'{short} algorithm="{algorithm}"{_extras(handler)}', ok
    return f"{short} (not a handler whose algorithm this rule can judge)", False


def _algorithm_text(written: str | None, used: str) -> str:
    if written is None:
        return f"without an algorithm (Tomcat default {used}, SHA-1 based)"
    return f'algorithm="{written}"'


def _extras(handler: CredentialHandler) -> str:
    settings = [
        f'{name}="{value}"'
        for name in ("keyLength", "iterations", "saltLength")
        if (value := attribute_value(handler.attributes, name)) is not None
    ]
    return f" ({', '.join(settings)})" if settings else ""


# -- V-224791 ---------------------------------------------------------------


@register("manager_role_user", needs=("windows",))
def manager_role_user(facts: Facts, inputs: Inputs) -> Verdict:
    users, source = load_tomcat_users(facts, inputs)
    managers = users.users_with_role(*MANAGER_ROLES)
    names = [u.name or "(unnamed)" for u in managers]
    roles = " or ".join(MANAGER_ROLES)
    if managers:
        observed = f"{and_list(names)} hold{'s' if len(names) == 1 else ''} {roles}"
    else:
        everyone = ", ".join(u.name or "(unnamed)" for u in users.users) or "none"
        observed = f"no user holds {roles} (users: {everyone})"
    evidence = [
        Evidence(
            item="Tomcat user with a manager role",
            observed=observed,
            expected=f"at least one user with {roles}",
            source=source,
            ok=bool(managers),
        )
    ]
    legacy = [u.name or "(unnamed)" for u in users.users if "manager" in u.roles]
    if legacy and not managers:
        evidence.append(
            Evidence(
                item='Tomcat 6 role "manager"',
                observed=(
                    f"{and_list(legacy)} hold{'s' if len(legacy) == 1 else ''} the "
                    "role manager, which Tomcat 7 and later no longer accept for "
                    "the manager application"
                ),
                expected=f"{roles} instead",
                source=source,
            )
        )
    return conclude(
        f"A Tomcat user holds a manager role ({and_list(names)})",
        "No Tomcat user can use the manager applications",
        evidence,
    )
