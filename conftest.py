"""Repository conftest: loads the suite's pytest plugin and its session fixtures."""

pytest_plugins = ["sphere_stig.plugin", "fixtures.sessions", "fixtures.verdicts"]
