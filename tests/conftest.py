pytest_plugins = ["tests.plugins.pg", "tests.plugins.api"]
