pytest_plugins = [
    "tests.plugins.kube",
]
