"""V-225096: the installed Sphere release is one the vendor still supports.

Support is the vendor's to declare, so the rule stays a reviewer's task;
the reviewer records the oldest supported release in the inventory
(``minimum_sphere_version``, taken from ISEC7's list), and this check
compares the installed release with it.
"""

from __future__ import annotations

import re

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.outcome import Evidence, Verdict, judge, not_reviewed

UNINSTALL = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall (ISEC7 SPHERE)"


def version_tuple(text: str) -> tuple[int, ...] | None:
    """``7.4.0.123`` -> (7, 4, 0, 123); None when it is not a dotted version."""
    if not re.fullmatch(r"\d+(\.\d+)*", text.strip()):
        return None
    return tuple(int(part) for part in text.strip().split("."))


@register("sphere_version_supported", needs=("windows",))
def sphere_version_supported(facts: Facts, inputs: Inputs) -> Verdict:
    assert facts.windows is not None
    minimum = str(inputs.get("minimum_sphere_version"))
    installed = facts.windows.sphere_version
    source = f"{facts.host}: {UNINSTALL} DisplayVersion"
    found = version_tuple(installed) if installed else None
    if installed is None or found is None:
        return not_reviewed(
            "the installed Sphere release could not be read "
            f"({installed or 'no ISEC7 entry under the Uninstall keys'}); read it "
            "in the console and compare it with ISEC7's list of supported releases",
        )
    wanted = version_tuple(minimum)
    # Compare as many parts as the minimum names: 7.4 covers 7.4.x.y.
    supported = wanted is not None and found[: len(wanted)] >= wanted
    return judge(
        f"Sphere {installed} is at or above the oldest supported release {minimum}",
        f"Sphere {installed} is older than the oldest supported release {minimum}",
        Evidence(
            item="installed Sphere release",
            observed=installed,
            expected=f"{minimum} or later (input minimum_sphere_version, from the vendor's list)",
            source=source,
            ok=supported,
        ),
        Evidence(
            item="vendor support list",
            observed="not consulted by the suite",
            expected="the reviewer keeps minimum_sphere_version in step with ISEC7's list",
            source="inventory input",
        ),
    )
