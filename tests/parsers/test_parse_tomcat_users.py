"""tomcat-users.xml: users, roles, and how each password is stored."""

from pathlib import Path

import pytest

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.users import (
    PasswordForm,
    PasswordKind,
    classify_password,
    parse_tomcat_users,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SOURCE = r"sphere01: C:\Program Files\ISEC7 SPHERE\Tomcat\conf\tomcat-users.xml"


def test_debian_file_has_only_commented_users():
    # Given Debian's stock tomcat-users.xml, where every user is in a comment
    users = parse_tomcat_users(
        (DATA / "tomcat10-debian" / "tomcat-users.xml").read_bytes(), SOURCE
    )

    # Then no user and no role exists
    assert users.users == ()
    assert users.declared_roles == ()


def test_users_roles_and_password_forms():
    # Given a file with every password form
    users = parse_tomcat_users(
        (DATA / "tomcat-users" / "mixed.xml").read_bytes(), SOURCE
    )

    # When the users are listed
    by_name = {u.name: u for u in users.users}

    # Then names, roles and password forms are read the way Tomcat reads them
    assert list(by_name) == ["admin", "robot", "legacy", "operator", "nopass"]
    assert by_name["admin"].roles == ("manager-gui", "manager-script")
    assert by_name["admin"].password == PasswordForm(
        PasswordKind.SALTED_DIGEST, digest_bits=512, iterations=20000
    )
    assert by_name["robot"].password == PasswordForm(
        PasswordKind.HEX_DIGEST, digest_bits=256
    )
    assert by_name["legacy"].password.kind is PasswordKind.CLEARTEXT
    assert by_name["operator"].password.kind is PasswordKind.PREFIXED_DIGEST
    assert by_name["operator"].groups == ("operators",)
    assert by_name["operator"].direct_roles == ()
    assert by_name["operator"].roles == ("manager-status", "manager-script")
    assert by_name["nopass"].password.kind is PasswordKind.ABSENT
    assert users.declared_roles == ("manager-gui", "manager-script")
    assert [u.name for u in users.users_with_role("manager-gui", "manager-script")] == [
        "admin",
        "robot",
        "operator",
    ]


def test_password_values_are_not_kept():
    # Given the parsed file
    users = parse_tomcat_users(
        (DATA / "tomcat-users" / "mixed.xml").read_bytes(), SOURCE
    )

    # Then no password text survives anywhere in the result
    text = repr(users)
    assert "changeit" not in text
    assert (
        "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8" not in text
    )
    assert "W6ph5Mm5Pz8GgiULbPgzG37mj9g" not in text


@pytest.mark.parametrize(
    ("value", "kind", "bits", "description"),
    [
        (None, PasswordKind.ABSENT, None, "absent"),
        ("", PasswordKind.EMPTY, None, "empty"),
        ("s3cret!", PasswordKind.CLEARTEXT, None, "cleartext"),
        ("ab" * 16, PasswordKind.HEX_DIGEST, 128, "unsalted hex digest (128-bit)"),
        ("ab" * 64, PasswordKind.HEX_DIGEST, 512, "unsalted hex digest (512-bit)"),
        # Hex, but no digest length Tomcat produces: treated as readable text.
        ("abcdef12", PasswordKind.CLEARTEXT, None, "cleartext"),
        (
            "00ff$1$" + "0" * 64,
            PasswordKind.SALTED_DIGEST,
            256,
            "salted digest (256-bit, 1 iterations)",
        ),
        ("$1000$" + "a" * 128, PasswordKind.SALTED_DIGEST, 512, None),
        (
            "{SSHA}c2FsdGVkZGlnZXN0",
            PasswordKind.PREFIXED_DIGEST,
            None,
            "prefixed digest",
        ),
    ],
)
def test_password_classification(value, kind, bits, description):
    # Given a stored value, when it is classified, then only its form is reported
    form = classify_password(value)
    assert form.kind is kind
    assert form.digest_bits == bits
    if description is not None:
        assert form.describe() == description


def test_wrong_root_element():
    with pytest.raises(CheckError, match="not <tomcat-users>"):
        parse_tomcat_users(b"<Server/>", SOURCE)
