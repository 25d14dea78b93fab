pytest_plugins = ["tests.plugins.servers"]
