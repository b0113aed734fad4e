"""Root conftest: shared fixtures come from plugin modules in tests/utils."""

pytest_plugins = ["tests.utils.app_fixtures", "tests.utils.containers", "tests.utils.leaks", "pytester"]
