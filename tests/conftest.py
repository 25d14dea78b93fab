pytest_plugins = ["tests.plugins.pg"]
