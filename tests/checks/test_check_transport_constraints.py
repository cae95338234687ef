"""transport_security_constraints (V-224793): TLS except the agent paths."""

import pytest
from check_facts import by_item, data_file, facts, remote_source, windows_facts

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.webapp import UNSECURE_PATTERNS, transport_security_constraints
from sphere_stig.outcome import CheckError, Status

SECURE = """<security-constraint><web-resource-collection>
<web-resource-name>Secure</web-resource-name>{patterns}{methods}
</web-resource-collection>{guarantee}</security-constraint>"""


def secure(patterns=("/*",), guarantee: str | None = "CONFIDENTIAL", methods=()) -> str:
    return SECURE.format(
        patterns="".join(f"<url-pattern>{p}</url-pattern>" for p in patterns),
        methods="".join(f"<http-method>{m}</http-method>" for m in methods),
        guarantee=(
            ""
            if guarantee is None
            else "<user-data-constraint><transport-guarantee>"
            f"{guarantee}</transport-guarantee></user-data-constraint>"
        ),
    )


def unsecure(patterns=UNSECURE_PATTERNS, name="Unsecure", guarantee="") -> str:
    listed = "".join(f"<url-pattern>{p}</url-pattern>" for p in patterns)
    return (
        f"<security-constraint><web-resource-collection><web-resource-name>{name}"
        f"</web-resource-name>{listed}</web-resource-collection>{guarantee}"
        "</security-constraint>"
    )


def web_app(*constraints: str) -> bytes:
    return (
        '<web-app xmlns="http://xmlns.jcp.org/xml/ns/javaee" version="4.0">'
        + "".join(constraints)
        + "</web-app>"
    ).encode()


def run(inputs, data: bytes | None):
    files = {} if data is None else {"tomcat_web_xml": data}
    return transport_security_constraints(
        facts(windows_facts(None, files=files)), inputs
    )


def test_registered_with_windows_facts():
    assert REGISTRY["transport_security_constraints"].needs == ("windows",)


def test_stig_constraints_pass(inputs):
    # Given the Jakarta EE descriptor with both constraints
    verdict = run(inputs, data_file("web-xml", "tomcat-constraints.xml"))

    # Then both are found in Tomcat's global web.xml
    assert verdict.status is Status.PASS
    assert [(e.item, e.observed, e.ok) for e in verdict.evidence] == [
        (
            'security constraint "Secure"',
            "Secure covers /* with transport-guarantee CONFIDENTIAL",
            True,
        ),
        (
            'security constraint "Unsecure"',
            "Unsecure lists exactly the 10 paths",
            True,
        ),
    ]
    assert verdict.evidence[0].source == remote_source("tomcat_web_xml")


def test_stock_descriptor_fails(inputs):
    verdict = run(inputs, data_file("tomcat10-debian", "web.xml"))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, '"Secure"').observed == "no constraint named Secure"
    assert by_item(verdict, '"Unsecure"').ok is False


def test_missing_agent_paths_fail(inputs):
    verdict = run(inputs, web_app(secure(), unsecure(UNSECURE_PATTERNS[:-2])))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, '"Unsecure"').observed == (
        "Unsecure missing /BNator/favorites/*, /app/resource/*"
    )


def test_extra_paths_widen_the_exemption(inputs):
    patterns = (*UNSECURE_PATTERNS, "/app/admin/*", "/BNator/agent/*")

    verdict = run(inputs, web_app(secure(), unsecure(patterns)))

    # Then the extra one fails (a repeated one is harmless)
    assert verdict.status is Status.FAIL
    assert by_item(verdict, '"Unsecure"').observed == (
        "Unsecure extra /app/admin/* (each extra path widens what may travel "
        "without TLS)"
    )


def test_order_and_case_of_the_name_do_not_matter(inputs):
    patterns = tuple(reversed(UNSECURE_PATTERNS))

    verdict = run(inputs, web_app(unsecure(patterns, name="unsecure"), secure()))

    assert verdict.status is Status.PASS


@pytest.mark.parametrize(
    ("constraint", "observed"),
    [
        (
            secure(guarantee=None),
            "Secure is present but has no transport-guarantee instead of CONFIDENTIAL",
        ),
        (
            secure(guarantee="INTEGRAL"),
            "Secure is present but has INTEGRAL instead of CONFIDENTIAL",
        ),
        (
            secure(patterns=("/app/*",)),
            "Secure is present but covers /app/* instead of /*",
        ),
        (
            secure(methods=("GET", "POST")),
            "Secure is present but applies only to the methods GET, POST, so other "
            "methods may use plain HTTP",
        ),
    ],
)
def test_weakened_secure_constraint_fails(constraint, observed, inputs):
    verdict = run(inputs, web_app(unsecure(), constraint))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, '"Secure"').observed == observed


def test_other_constraint_without_guarantee_fails(inputs):
    # Given a third constraint that exempts another path from TLS
    other = unsecure(("/legacy/*",), name="Legacy")

    verdict = run(inputs, web_app(secure(), unsecure(), other))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, '"Legacy"').observed == (
        "no transport guarantee on /legacy/*, which lets these paths use plain "
        "HTTP as well"
    )


def test_other_constraint_with_guarantee_is_fine(inputs):
    guarded = unsecure(
        ("/admin/*",),
        name="Admin",
        guarantee="<user-data-constraint><transport-guarantee>CONFIDENTIAL"
        "</transport-guarantee></user-data-constraint>",
    )

    verdict = run(inputs, web_app(secure(), unsecure(), guarded))

    assert verdict.status is Status.PASS
    assert len(verdict.evidence) == 2


def test_unsecure_with_a_guarantee_is_noted(inputs):
    guarded = unsecure(
        guarantee="<user-data-constraint><transport-guarantee>CONFIDENTIAL"
        "</transport-guarantee></user-data-constraint>"
    )

    verdict = run(inputs, web_app(secure(), guarded))

    assert verdict.status is Status.PASS
    assert by_item(verdict, '"Unsecure"').observed.endswith(
        "note: it carries transport-guarantee CONFIDENTIAL, so these paths require "
        "TLS after all"
    )


def test_commented_constraints_do_not_exist(inputs):
    data = web_app("<!--", secure(), unsecure(), "-->")

    assert run(inputs, data).status is Status.FAIL


def test_sphere_descriptor_is_not_read(inputs):
    files = {"sphere_web_xml": web_app(secure(), unsecure())}

    with pytest.raises(CheckError, match=r"Tomcat\\conf\\web.xml does not exist"):
        transport_security_constraints(facts(windows_facts(None, files=files)), inputs)


def test_utf16_descriptor(inputs):
    data = b"\xff\xfe" + web_app(secure(), unsecure()).decode().encode("utf-16-le")

    assert run(inputs, data).status is Status.PASS
