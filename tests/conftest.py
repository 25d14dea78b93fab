pytest_plugins = [
    "tests.plugins.pg",
    "tests.plugins.api",
    "tests.plugins.servers",
    "tests.plugins.kube",
    "tests.plugins.kubetasks",
    "tests.plugins.local",
    "tests.plugins.serve",
    "tests.plugins.clients",
    "tests.plugins.realnode",
    "tests.plugins.auth",
    "tests.plugins.helm",
]
