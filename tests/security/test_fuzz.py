"""Schemathesis against a real ``poiesis api`` on 127.0.0.1: no 5xx, no undocumented status, no off-schema body.

A bounded, seeded run of every phase (examples, coverage, fuzzing, and
stateful sequences over the links schemathesis infers: create a task, then
get or cancel it) with all checks but ``positive_data_acceptance``: the
server refuses on purpose some schema-valid input (a task without
executors, control characters in ids, anything over a limit; see
docs/security.md). The document is served as generated, except that the
schemas marked ``x-poiesis-required-except-views: [MINIMAL]`` lose
``required`` (TES v1.1 contradicts itself there; docs/api.md), and optional
members are ``nullable`` (CreateTask takes null as absent; docs/api.md).
The full run goes against a TES 1.1 and a 1.2 server, each with its own
document; the Basic run against 1.1 (authentication does not depend on it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from poiesis.api.app import spec_path
from tests.plugins.api import clean_env
from tests.plugins.auth import PASSWORDS

BASE = "/ga4gh/tes/v1"
#: (POIESIS_AUTH, TES version) -> (examples per operation, test cases required): the full run
#: without authentication on each version, and a shorter one as a Basic user, through
#: authentication and ownership.
RUNS = {("none", "1.1"): ("170", 2000), ("basic", "1.1"): ("30", 500), ("none", "1.2"): ("170", 2000)}


def _document_for_validation(path: Path, version: str) -> Path:
    spec = yaml.safe_load(spec_path(version).read_text(encoding="utf-8"))
    for schema in spec["components"]["schemas"].values():
        if "MINIMAL" in (schema.get("x-poiesis-required-except-views") or []):
            schema.pop("required", None)
        _optional_members_nullable(schema)
    path.write_text(yaml.safe_dump(spec))
    return path


def _optional_members_nullable(schema: dict) -> None:
    """CreateTask takes JSON null for any member a schema does not require, as if absent (what
    pydantic-tes sends; docs/api.md): say so in the copy schemathesis checks requests against.
    Only object members: null inside arrays and as map values stays refused."""
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        if name in required:
            continue
        if "$ref" in prop:
            schema["properties"][name] = {"allOf": [{"$ref": prop["$ref"]}], "nullable": True}
        else:
            prop["nullable"] = True


@pytest.mark.parametrize(("mode", "version"), sorted(RUNS), ids=[f"{m}-tes{v}" for m, v in sorted(RUNS)])
def test_schemathesis_finds_no_server_error_and_nothing_off_schema(
    start_api, db_url: str, tmp_path: Path, password_file: Path, mode: str, version: str
) -> None:
    """At least 2,000 generated requests (500 as a Basic user), stateful ones included; every check passes."""
    max_examples, min_requests = RUNS[mode, version]
    env, auth = {"POIESIS_TES_VERSION": version}, []
    if mode == "basic":
        env |= {"POIESIS_AUTH": "basic", "POIESIS_AUTH_BASIC_FILE": str(password_file)}
        auth = ["--auth", f"alice:{PASSWORDS['alice']}"]
    url, _ = start_api(env=clean_env(POIESIS_DATABASE_URL=db_url, **env))
    document = _document_for_validation(tmp_path / "openapi.yaml", version)
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", str(document), "--url", f"{url}{BASE}",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance",
         "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", max_examples,
         "--seed", "20261201", "--workers", "1", "--no-shrink", "--request-timeout", "30", *auth],
        capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path,
        env=clean_env(SCHEMATHESIS_TELEMETRY="false", NO_COLOR="1"),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated, output[-3000:]
    assert int(generated.group(1)) >= min_requests and generated.group(1) == generated.group(2), generated.group(0)
    scenarios = re.search(r"Scenarios:\s+(\d+)", output)
    assert scenarios and int(scenarios.group(1)) > 0, "no stateful scenario ran"
    links = re.search(r"API Links:\s+(\d+) covered", output)
    assert links and int(links.group(1)) >= 1, "no stateful link was followed"
    print(generated.group(0), scenarios.group(0), links.group(0))
