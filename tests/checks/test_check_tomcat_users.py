"""tomcat_users_hashed (V-224780) and manager_role_user (V-224791)."""

import pytest
from check_facts import (
    SERVER_XML_SOURCE,
    by_item,
    data_file,
    facts,
    remote_source,
    server_xml,
    windows_facts,
)

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.users import manager_role_user, tomcat_users_hashed
from sphere_stig.outcome import CheckError, Status

USERS_SOURCE = remote_source("tomcat_users_xml")
SALTED = "a1b2c3d4e5f60718293a4b5c6d7e8f90$100000$" + "ab" * 32
HANDLER = "CredentialHandler of the UserDatabaseRealm"


def users_xml(*users: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        '<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">\r\n'
        + "\r\n".join(users)
        + "\r\n</tomcat-users>\r\n"
    ).encode()


def user(name="tcadmin", password: str | None = SALTED, roles="manager-gui") -> str:
    secret = "" if password is None else f' password="{password}"'
    return f'<user username="{name}"{secret} roles="{roles}"/>'


def realm(handler: str = "", outer_handler: str = "") -> bytes:
    return (
        '<Server port="-1"><Service name="Catalina"><Engine name="Catalina">'
        '<Realm className="org.apache.catalina.realm.LockOutRealm">'
        f"{outer_handler}"
        '<Realm className="org.apache.catalina.realm.UserDatabaseRealm" '
        f'resourceName="UserDatabase">{handler}</Realm>'
        "</Realm></Engine></Service></Server>"
    ).encode()


def handler(class_name: str | None, algorithm: str | None = None, extra="") -> str:
    cls = (
        ""
        if class_name is None
        else (f' className="org.apache.catalina.realm.{class_name}"')
    )
    alg = "" if algorithm is None else f' algorithm="{algorithm}"'
    return f"<CredentialHandler{cls}{alg}{extra}/>"


def hashed(inputs, users: bytes | None, server: bytes | None = None):
    files = {} if users is None else {"tomcat_users_xml": users}
    given = windows_facts(server or server_xml("hardened.xml"), files=files)
    return tomcat_users_hashed(facts(given), inputs)


def managers(inputs, users: bytes | None):
    files = {} if users is None else {"tomcat_users_xml": users}
    return manager_role_user(facts(windows_facts(None, files=files)), inputs)


@pytest.mark.parametrize("name", ["tomcat_users_hashed", "manager_role_user"])
def test_registered_with_windows_facts(name):
    assert REGISTRY[name].needs == ("windows",)


# -- tomcat_users_hashed -------------------------------------------------------


def test_salted_digest_and_pbkdf2_handler_pass(inputs):
    verdict = hashed(inputs, users_xml(user()))

    assert verdict.status is Status.PASS
    password = by_item(verdict, 'password of Tomcat user "tcadmin"')
    assert (password.observed, password.source) == (
        "digest form: salted digest (256-bit, 100000 iterations)",
        USERS_SOURCE,
    )
    line = by_item(verdict, HANDLER)
    assert (line.item, line.observed, line.source) == (
        'CredentialHandler of the UserDatabaseRealm ("UserDatabase") in Engine '
        '"Catalina"',
        'SecretKeyCredentialHandler algorithm="PBKDF2WithHmacSHA512" (keyLength="256")',
        SERVER_XML_SOURCE,
    )


def test_no_password_or_hash_reaches_the_evidence(inputs):
    # Given a cleartext password and a digest
    data = users_xml(user(password="Sphere2019!"), user("robot", SALTED))

    verdict = hashed(inputs, data)

    # Then neither value (nor the cleartext's length) is printed anywhere
    text = verdict.details()
    assert "Sphere2019!" not in text and SALTED not in text and "ab" * 32 not in text
    assert by_item(verdict, '"tcadmin"').observed == "cleartext (not shown)"
    assert verdict.status is Status.FAIL


def test_mixed_file(inputs):
    # Given every password form (tests/data/tomcat-users/mixed.xml)
    verdict = hashed(inputs, data_file("tomcat-users", "mixed.xml"))

    observed = {e.item: (e.observed, e.ok) for e in verdict.evidence}
    assert observed['password of Tomcat user "admin"'] == (
        "digest form: salted digest (512-bit, 20000 iterations)",
        True,
    )
    assert observed['password of Tomcat user "robot"'] == (
        "digest form: unsalted hex digest (256-bit)",
        True,
    )
    assert observed['password of Tomcat user "legacy"'] == (
        "cleartext (not shown)",
        False,
    )
    assert observed['password of Tomcat user "operator"'][1] is False
    assert observed['password of Tomcat user "nopass"'] == (
        "no password attribute (the user cannot log on with a password)",
        None,
    )
    assert verdict.status is Status.FAIL


def test_sha1_sized_hex_digest_fails(inputs):
    verdict = hashed(inputs, users_xml(user(password="a" * 40)))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, '"tcadmin"').observed == (
        "digest form, but 160 bits long: the size of MD5 or SHA-1, not SHA-2"
    )


def test_empty_password_fails(inputs):
    verdict = hashed(inputs, users_xml(user(password="")))

    assert by_item(verdict, '"tcadmin"').observed == "empty password, nothing hashed"
    assert verdict.status is Status.FAIL


@pytest.mark.parametrize(
    ("credential_handler", "ok", "observed"),
    [
        (
            handler("MessageDigestCredentialHandler", "SHA-256"),
            True,
            'MessageDigestCredentialHandler algorithm="SHA-256"',
        ),
        (
            handler("MessageDigestCredentialHandler", "sha-512"),
            True,
            'MessageDigestCredentialHandler algorithm="sha-512"',
        ),
        (
            handler("SecretKeyCredentialHandler", "PBKDF2WithHmacSHA256"),
            True,
            'SecretKeyCredentialHandler algorithm="PBKDF2WithHmacSHA256"',
        ),
        (
            handler("MessageDigestCredentialHandler", "SHA-1"),
            False,
            'MessageDigestCredentialHandler algorithm="SHA-1"',
        ),
        (
            handler("MessageDigestCredentialHandler"),
            False,
            "MessageDigestCredentialHandler without an algorithm, so passwords are "
            "compared as cleartext",
        ),
        (
            handler("SecretKeyCredentialHandler"),
            False,
            "SecretKeyCredentialHandler without an algorithm (Tomcat default "
            "PBKDF2WithHmacSHA1, SHA-1 based)",
        ),
        (
            handler(None, "PBKDF2WithHmacSHA512", ' keyLength="256"'),
            False,
            "a CredentialHandler without className, which Tomcat cannot create (the "
            "STIG's check quotes it that way; the element needs className)",
        ),
    ],
)
def test_credential_handlers(credential_handler, ok, observed, inputs):
    verdict = hashed(inputs, users_xml(user()), realm(credential_handler))

    line = by_item(verdict, HANDLER)
    assert (line.observed, line.ok) == (observed, ok)


def test_nested_handlers_must_all_be_sha2(inputs):
    nested = (
        '<CredentialHandler className="org.apache.catalina.realm.'
        'NestedCredentialHandler">'
        + handler("SecretKeyCredentialHandler", "PBKDF2WithHmacSHA512")
        + handler("MessageDigestCredentialHandler")
        + "</CredentialHandler>"
    )

    verdict = hashed(inputs, users_xml(user()), realm(nested))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, HANDLER).observed.startswith(
        "NestedCredentialHandler, each one able to log on: SecretKeyCredentialHandler"
    )


def test_handler_on_the_lockout_realm_does_not_apply(inputs):
    outer = handler("SecretKeyCredentialHandler", "PBKDF2WithHmacSHA512")

    verdict = hashed(inputs, users_xml(user()), realm(outer_handler=outer))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, HANDLER).observed == (
        "no CredentialHandler, so Tomcat compares passwords as cleartext "
        "(MessageDigestCredentialHandler without an algorithm); the handler on the "
        "enclosing LockOutRealm is not used by the realms inside it"
    )


def test_no_user_database_realm(inputs):
    data = b'<Server><Service name="S"><Engine name="E"/></Service></Server>'

    verdict = hashed(inputs, users_xml(user()), data)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "CredentialHandler of the user database").observed == (
        "no active UserDatabaseRealm in server.xml, so no credential handler "
        "applies to tomcat-users.xml"
    )


def test_replaced_realm_with_handler_does_not_count(inputs):
    # Given drifted.xml: the active UserDatabaseRealm has no handler
    verdict = hashed(inputs, users_xml(user()), server_xml("drifted.xml"))

    assert verdict.status is Status.FAIL


def test_utf16_users_file(inputs):
    text = users_xml(user()).decode().replace("UTF-8", "UTF-16")

    verdict = hashed(inputs, b"\xff\xfe" + text.encode("utf-16-le"))

    assert verdict.status is Status.PASS


def test_missing_users_file_is_an_error(inputs):
    with pytest.raises(CheckError, match=r"tomcat-users.xml does not exist"):
        hashed(inputs, None)


# -- manager_role_user ---------------------------------------------------------


def test_manager_user_passes_with_names_only(inputs):
    verdict = managers(inputs, users_xml(user(roles="manager-gui,manager-script")))

    assert verdict.status is Status.PASS
    line = by_item(verdict, "manager role")
    assert (line.observed, line.source) == (
        "tcadmin holds manager-gui or manager-script",
        USERS_SOURCE,
    )
    assert SALTED not in verdict.details()


def test_role_through_a_group_counts(inputs):
    # Given mixed.xml: operator has manager-script through a group
    verdict = managers(inputs, data_file("tomcat-users", "mixed.xml"))

    assert verdict.status is Status.PASS
    assert (
        verdict.summary
        == "A Tomcat user holds a manager role (admin, robot and operator)"
    )


def test_tomcat6_roles_fail_with_a_hint(inputs):
    verdict = managers(inputs, users_xml(user("admin", "x", "manager,admin")))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "manager role").observed == (
        "no user holds manager-gui or manager-script (users: admin)"
    )
    assert by_item(verdict, "Tomcat 6").ok is None


def test_manager_status_is_not_enough(inputs):
    verdict = managers(inputs, users_xml(user(roles="manager-status,manager-jmx")))

    assert verdict.status is Status.FAIL


def test_stock_file_has_no_users(inputs):
    verdict = managers(inputs, data_file("tomcat10-debian", "tomcat-users.xml"))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "manager role").observed == (
        "no user holds manager-gui or manager-script (users: none)"
    )


def test_missing_file_is_an_error(inputs):
    with pytest.raises(CheckError, match="site.sphere_root"):
        managers(inputs, None)
