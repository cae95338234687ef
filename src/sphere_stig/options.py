"""The suite's command-line options, registered before pytest reads its arguments.

This module is a ``pytest11`` entry point of the package, so pytest knows
``--inventory``, ``--stig-xccdf`` and the others while it decides its root
directory. Were they only defined by the plugin that the repository's
conftest.py loads, ``--stig-xccdf /elsewhere/file.xml`` would be taken for a
path to collect: the root directory would move to a common ancestor, the
conftest would not load and pytest would call the options unrecognized.
Everything else lives in :mod:`sphere_stig.plugin`, which stays inactive
outside this repository.
"""

from __future__ import annotations

import pytest

from sphere_stig import gate
from sphere_stig.allure_labels import RULE_LINK


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sphere-stig", "ISEC7 Sphere STIG acceptance")
    group.addoption(
        "--inventory",
        metavar="NAME",
        help="inventory to check: a name in inventories/ (lab, prod...) or a path",
    )
    group.addoption(
        "--limit",
        metavar="PATTERN",
        help="only hosts whose name or group matches these comma-separated globs",
    )
    group.addoption(
        "--answers",
        metavar="FILE",
        help="reviewer answers for manual rules (default: the inventory's answers key)",
    )
    group.addoption(
        "--waivers",
        metavar="FILE",
        help="waivers of open findings (default: the inventory's waivers key)",
    )
    group.addoption(
        "--stig-xccdf",
        metavar="PATH",
        help="the DISA XCCDF (zip or xml) whose official titles, check and fix "
        "text go into the reports and checklists",
    )
    group.addoption(
        "--fail-on",
        metavar="LIST",
        default=gate.DEFAULT,
        help="results that fail the run: comma-separated cat1, cat2, cat3, ports, "
        f"requirements, error, or none (default: {gate.DEFAULT}); a finding under "
        "a valid waiver never does",
    )
    group.addoption(
        "--reports-dir",
        metavar="DIR",
        help="where run reports go (default: reports/ beside the inventories)",
    )
    parser.addini(
        "sphere_inventory_dir",
        "folder that holds named inventories",
        default="inventories",
    )
    parser.addini(
        "sphere_rule_link",
        "URL of a rule's public page for Allure links, with {vuln_id}",
        default=RULE_LINK,
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # Outside the repository nothing loads the plugin, and pytest would
    # collect whatever lies around; say where to run instead.
    if config.getoption("inventory") and not config.pluginmanager.has_plugin(
        "sphere_stig.plugin"
    ):
        raise pytest.UsageError(
            f"--inventory: run pytest from the suite's repository (the folder "
            f"with conftest.py and tests_infra/), not from {config.invocation_params.dir}"
        )
