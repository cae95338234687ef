"""Repository conftest: loads the suite's pytest plugin and its fixtures.

``pytester`` serves the project's own plugin tests; it adds fixtures only.
"""

pytest_plugins = [
    "sphere_stig.plugin",
    "fixtures.sessions",
    "fixtures.verdicts",
    "pytester",
]
