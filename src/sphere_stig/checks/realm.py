"""V-224782, V-224783, V-224784: Tomcat's LockOutRealm and its two settings.

A LockOutRealm counts when the parsed server.xml holds it (a commented-out
one does not exist) and Tomcat keeps it: when one container has several
Realm elements, the digester keeps only the last. Absent attributes take
LockOutRealm's defaults, failureCount 5 and lockOutTime 300 seconds, and a
value that is not a number leaves the default in place.
"""

from __future__ import annotations

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import conclude, load_server_config, refuse_unresolved
from sphere_stig.outcome import Evidence, Verdict
from sphere_stig.parsers.tomcat import (
    DEFAULT_LOCKOUT_FAILURE_COUNT,
    DEFAULT_LOCKOUT_TIME,
    LOCKOUT_REALM,
    Realm,
    ServerConfig,
)

FAILURE_COUNT = 3
LOCKOUT_SECONDS = 900


@register("lockout_realm_present", needs=("windows",))
def lockout_realm_present(facts: Facts, inputs: Inputs) -> Verdict:
    config, source = load_server_config(facts, inputs)
    active, replaced = _lockout_realms(config, source)
    evidence = [
        Evidence(
            item=f"LockOutRealm in {realm.container}",
            observed=f"present and in effect{_wrapping(realm)}",
            expected="an active LockOutRealm",
            source=source,
            ok=True,
        )
        for realm in active
    ]
    evidence.extend(
        Evidence(
            item=f"LockOutRealm in {realm.container}",
            observed=(
                "present but not in effect: a later Realm element in the same "
                "container replaces it"
            ),
            expected="an active LockOutRealm",
            source=source,
            ok=False if not active else None,
        )
        for realm in replaced
    )
    if not active and not replaced:
        evidence.append(_none_found(config, source))
    return conclude(
        "A LockOutRealm is in effect in server.xml",
        "No LockOutRealm is in effect",
        evidence,
    )


@register("lockout_failure_count", needs=("windows",))
def lockout_failure_count(facts: Facts, inputs: Inputs) -> Verdict:
    return _setting(
        facts,
        inputs,
        attribute="failureCount",
        default=DEFAULT_LOCKOUT_FAILURE_COUNT,
        wanted=FAILURE_COUNT,
        meaning="failed logons before the account is locked",
    )


@register("lockout_time", needs=("windows",))
def lockout_time(facts: Facts, inputs: Inputs) -> Verdict:
    return _setting(
        facts,
        inputs,
        attribute="lockOutTime",
        default=DEFAULT_LOCKOUT_TIME,
        wanted=LOCKOUT_SECONDS,
        meaning="seconds an account stays locked",
    )


def _setting(
    facts: Facts,
    inputs: Inputs,
    attribute: str,
    default: int,
    wanted: int,
    meaning: str,
) -> Verdict:
    config, source = load_server_config(facts, inputs)
    active, _ = _lockout_realms(config, source)
    refuse_unresolved(
        (p for realm in active for p in realm.placeholders), (attribute,), source
    )
    if not active:
        evidence = [_none_found(config, source, consequence=f"no {attribute} applies")]
    else:
        evidence = []
        for realm in active:
            setting = realm.int_setting(attribute, default)
            evidence.append(
                Evidence(
                    item=f"{attribute} of the LockOutRealm in {realm.container}",
                    observed=f"{setting.describe()}: {setting.value} {meaning}",
                    expected=f'{attribute}="{wanted}"',
                    source=source,
                    ok=setting.value == wanted,
                )
            )
    return conclude(
        f'The LockOutRealm has {attribute}="{wanted}"',
        f'No LockOutRealm with {attribute}="{wanted}" is in effect',
        evidence,
    )


def _lockout_realms(
    config: ServerConfig, source: str
) -> tuple[list[Realm], list[Realm]]:
    refuse_unresolved(
        (p for realm in config.realms() for p in realm.placeholders),
        ("className",),
        source,
    )
    found = [r for r in config.realms() if r.class_name == LOCKOUT_REALM]
    return [r for r in found if r.active], [r for r in found if not r.active]


def _wrapping(realm: Realm) -> str:
    nested = [r.short_name for r in realm.realms]
    return f", wrapping {', '.join(nested)}" if nested else ", wrapping no realm"


def _none_found(config: ServerConfig, source: str, consequence: str = "") -> Evidence:
    others = sorted({r.short_name for r in config.realms() if r.active})
    seen = f"realms in effect: {', '.join(others)}" if others else "no Realm in effect"
    tail = f"; {consequence}" if consequence else ""
    return Evidence(
        item="LockOutRealm",
        observed=f"no active LockOutRealm in server.xml ({seen}){tail}",
        expected=f'<Realm className="{LOCKOUT_REALM}"> outside any comment',
        source=source,
        ok=False,
    )
