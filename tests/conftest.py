pytest_plugins = ["tests.plugins.pg", "tests.plugins.api", "tests.plugins.kube", "tests.plugins.kubetasks"]
