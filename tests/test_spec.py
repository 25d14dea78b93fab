"""The OpenAPI documents (TES 1.1 and 1.2), the generated models and spec-diff.

Reads the TES reference documents the repository holds in reference/tes
(or $POIESIS_TES_REFERENCE); fails with a message when they are missing.
"""

from __future__ import annotations

import copy
import importlib.machinery
import importlib.util
import json
import pathlib
import subprocess
import sys
from types import ModuleType

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dev import specdiff
from dev.specdiff import Difference

REPO = pathlib.Path(__file__).resolve().parent.parent
SPEC_NAME = "task_execution_service.openapi.yaml"
#: Our document of each TES version served, and the upstream one it follows (in the reference directory).
DOCUMENTS = {"1.1": REPO / "openapi" / "v1.1" / SPEC_NAME, "1.2": REPO / "openapi" / "v1.2" / SPEC_NAME}
UPSTREAM = {"1.1": SPEC_NAME, "1.2": f"develop-v1.2/{SPEC_NAME}"}
OURS = DOCUMENTS["1.1"]
RESOURCES = "components.schemas.tesResources.properties"
#: TES 1.1 -> 1.2: fractional cores, memory and disk of format float; nothing else.
V1_2_CHANGES = {
    Difference("changed", f"{RESOURCES}.cpu_cores.type", "integer", "number"),
    Difference("changed", f"{RESOURCES}.cpu_cores.format", "int32", "double"),
    Difference("changed", f"{RESOURCES}.ram_gb.format", "double", "float"),
    Difference("changed", f"{RESOURCES}.disk_gb.format", "double", "float"),
}
OPERATIONS = {
    ("/service-info", "get"): "GetServiceInfo",
    ("/tasks", "get"): "ListTasks",
    ("/tasks", "post"): "CreateTask",
    ("/tasks/{id}", "get"): "GetTask",
    ("/tasks/{id}:cancel", "post"): "CancelTask",
}
ERROR_CODES = ("400", "401", "403", "404", "500", "503")

# What openapi/ adds to the TES document of each version, and nothing else: the
# error responses, their one schema and the security schemes. The service-info
# schemas copied into openapi/ compare equal to the ones v1.1 refers to by URL.
DOCUMENTED_ADDITIONS = {
    ("added", "components.schemas.ErrorResponse"),
    ("added", "paths./tasks.post.responses.413"),
    ("added", "components.securitySchemes.BasicAuth"),
    ("added", "components.securitySchemes.BearerAuth"),
} | {
    ("added", f"paths.{path}.{method}.responses.{code}")
    for path, method in OPERATIONS
    for code in ERROR_CODES
}


# develop-v1.2 grew from the develop branch, which has the security schemes and requires them
# globally and per operation; ours declares the schemes and requires nothing (the guard
# authenticates; docs/api.md "Why not Connexion's own enforcement").
SECURITY_SCHEMES = {("added", "components.securitySchemes.BasicAuth"), ("added", "components.securitySchemes.BearerAuth")}
DOCUMENTED_ADDITIONS_1_2 = (DOCUMENTED_ADDITIONS - SECURITY_SCHEMES) | {("removed", "security")} | {
    ("removed", f"paths.{path}.{method}.security") for path, method in OPERATIONS
}
#: What ours adds to (or drops from) the upstream document of each version.
ADDITIONS = {"1.1": DOCUMENTED_ADDITIONS, "1.2": DOCUMENTED_ADDITIONS_1_2}


@pytest.fixture(scope="session")
def reference_dir() -> pathlib.Path:
    try:
        return specdiff.find_reference_dir()
    except specdiff.SpecDiffError as err:
        pytest.fail(f"TES reference documents missing: {err}")


@pytest.fixture(scope="session")
def generate_script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("poiesis_generate_script", str(REPO / "scripts" / "generate"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _ours(version: str = "1.1") -> dict:
    return yaml.safe_load(DOCUMENTS[version].read_text(encoding="utf-8"))


def _pairs(found: list[Difference]) -> set[tuple[str, str]]:
    return {(d.change, d.where) for d in found}


# ------------------------------------------------------------ generated models


def test_generated_models_match_the_document():
    """`scripts/generate --check` passes: generated/ is what the document generates."""
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate"), "--check"], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generate_check_shows_a_diff_for_stale_models(generate_script):
    """A generated file that differs from the generator's output yields a diff naming the change."""
    wanted = generate_script.render()
    assert generate_script.stale_diff(wanted) == ""
    wanted["generated/models.py"] += "STALE = True\n"
    assert "+STALE = True" in generate_script.stale_diff(wanted)
    del wanted["generated/v1_1/openapi.yaml"]  # as if a version were dropped: its files are stale
    assert "only in generated/: generated/v1_1/openapi.yaml" in generate_script.stale_diff(wanted)


def test_every_version_is_generated_and_served_from_its_package(generate_script):
    """scripts/generate writes a package per version of poiesis.config.TES_VERSIONS, holding its document verbatim."""
    from poiesis.api import document
    from poiesis.config import TES_VERSIONS

    assert tuple(generate_script.VERSIONS) == TES_VERSIONS == tuple(DOCUMENTS)
    for version in TES_VERSIONS:
        assert document.spec_path(version).read_text(encoding="utf-8") == DOCUMENTS[version].read_text(encoding="utf-8")
        assert document.service_type_version(version) == f"{version}.0"
    assert TES_VERSIONS[-1] == generate_script.SERVER_MODELS


_INT32 = st.integers(-(2**31), 2**31 - 1)
_GB = st.floats(min_value=0, max_value=1e6, allow_nan=False) | st.integers(0, 2**40)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={"cpu_cores": _INT32, "ram_gb": _GB, "disk_gb": _GB,
                                          "preemptible": st.booleans(), "zones": st.lists(st.text(max_size=4))}))
def test_a_tes_1_1_task_is_the_same_task_in_the_server_models(resources):
    """The server's models (1.2's) take every 1.1 task unchanged: whole cores stay an integer, never 4.0."""
    from generated import models
    from generated.v1_1 import models as v1_1

    body = {"executors": [{"image": "alpine", "command": ["true"]}], "resources": resources}
    old = v1_1.TesTask.model_validate(body).model_dump_json(exclude_none=True)
    assert models.TesTask.model_validate(body).model_dump_json(exclude_none=True) == old
    if "cpu_cores" in resources:
        assert type(json.loads(old)["resources"]["cpu_cores"]) is int


def test_the_server_models_keep_fractional_cores():
    """A 1.2 task's 0.5 cores stays 0.5; the 1.1 models refuse it, as the 1.1 document does."""
    import pydantic

    from generated import models
    from generated.v1_1 import models as v1_1

    assert models.TesResources.model_validate({"cpu_cores": 0.5}).cpu_cores == 0.5
    with pytest.raises(pydantic.ValidationError):
        v1_1.TesResources.model_validate({"cpu_cores": 0.5})


def test_generated_models_leave_unset_fields_out_of_json():
    """Optional fields default to None, so exclude_none dumps only what was given, without a made-up state."""
    from generated import models

    task = models.TesTask.model_validate(
        {"executors": [{"image": "alpine", "command": ["true"]}], "inputs": [{"path": "/in", "content": "x"}]}
    )
    assert task.model_dump(mode="json", exclude_none=True) == {
        "executors": [{"image": "alpine", "command": ["true"]}],
        "inputs": [{"path": "/in", "content": "x"}],
    }


def test_generated_enums_carry_the_spec_values():
    """tesState, tesFileType and the view parameter become string enums with the spec's values."""
    from generated import models

    assert [s.value for s in models.TesState] == [
        "UNKNOWN", "QUEUED", "INITIALIZING", "RUNNING", "PAUSED", "COMPLETE",
        "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED", "CANCELING",
    ]
    assert [t.value for t in models.TesFileType] == ["FILE", "DIRECTORY"]
    assert [v.value for v in models.View] == ["MINIMAL", "BASIC", "FULL"]


# ------------------------------------------------------------ the document


@pytest.mark.parametrize("version", sorted(DOCUMENTS))
def test_every_operation_routes_to_the_tes_operations(version):
    """Connexion loads each document and resolves each operation to poiesis.api.tes.operations.<operationId>."""
    import connexion
    from connexion.resolver import Resolver

    resolved = []

    def stub(name):
        resolved.append(name)
        return lambda *args, **kwargs: ({}, 200, {"Content-Type": "application/json"})

    app = connexion.AsyncApp(__name__)
    app.add_api(DOCUMENTS[version], resolver=Resolver(function_resolver=stub))
    assert app.test_client().get("/ga4gh/tes/v1/service-info").status_code == 200  # routes resolve on first use
    assert set(resolved) == {f"poiesis.api.tes.operations.{op}" for op in OPERATIONS.values()}


@pytest.mark.parametrize("version", sorted(DOCUMENTS))
def test_every_operation_documents_the_errors_with_one_schema(version):
    """Each operation lists 400/401/403/404/500/503, all as problem+json with the ErrorResponse schema."""
    document = _ours(version)
    for (path, method), operation_id in OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id
        for code in ERROR_CODES:
            ref = operation["responses"][code]["$ref"].rsplit("/", 1)[-1]
            content = document["components"]["responses"][ref]["content"]
            assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


def test_error_schema_accepts_connexions_own_validation_errors():
    """A Connexion 400 body (type, title, detail, status) validates against ErrorResponse."""
    from generated import models

    body = {"type": "about:blank", "title": "Bad Request", "status": 400,
            "detail": "'4' is not of type 'integer' - 'resources.cpu_cores'"}
    assert models.ErrorResponse.model_validate(body).model_dump(exclude_none=True) == body


@pytest.mark.parametrize("version", sorted(DOCUMENTS))
def test_no_operation_requires_credentials_by_default(version):
    """The security schemes are declared but no requirement is set, so the server runs without auth."""
    document = _ours(version)
    assert set(document["components"]["securitySchemes"]) == {"BearerAuth", "BasicAuth"}
    assert "security" not in document
    assert all("security" not in document["paths"][p][m] for p, m in OPERATIONS)


# ------------------------------------------------------------ spec-diff on the real documents


@pytest.mark.parametrize("version", sorted(DOCUMENTS))
def test_ours_differs_from_upstream_only_by_the_documented_additions(reference_dir, version):
    """spec-diff of the upstream document (v1.1 release, develop-v1.2) against ours reports exactly our additions."""
    found = specdiff.diff_files(reference_dir / UPSTREAM[version], DOCUMENTS[version], reference_dir=reference_dir)
    assert _pairs(found) == ADDITIONS[version]


def test_our_1_2_differs_from_our_1_1_as_upstream_1_2_from_1_1(reference_dir):
    """Our two documents differ by exactly the changes of TES 1.1 -> develop-v1.2, nothing of ours."""
    found = specdiff.diff_files(DOCUMENTS["1.1"], DOCUMENTS["1.2"], reference_dir=reference_dir)
    assert set(found) == V1_2_CHANGES


def test_service_info_schemas_are_resolved_from_the_local_copy(reference_dir):
    """The v1.1 release's https $refs to service-info become the local Service and ServiceType schemas."""
    document = specdiff.load_document(reference_dir / SPEC_NAME, reference_dir=reference_dir)
    schemas = document["components"]["schemas"]
    assert schemas["tesServiceInfo"]["allOf"][0] == {"$ref": "#/components/schemas/Service"}
    assert schemas["Service"]["properties"]["type"] == {"$ref": "#/components/schemas/ServiceType"}
    assert schemas["ServiceType"]["required"] == ["group", "artifact", "version"]


def test_develop_v1_2_changes_cpu_cores_type_and_memory_formats(reference_dir):
    """v1.1 -> develop-v1.2: cpu_cores integer/int32 -> number/double, ram_gb/disk_gb double -> float."""
    found = specdiff.diff_files(
        reference_dir / SPEC_NAME, reference_dir / "develop-v1.2" / SPEC_NAME, reference_dir=reference_dir
    )
    assert {d for d in found if d.where.startswith("components.schemas.")} == V1_2_CHANGES


def test_develop_adds_security_only(reference_dir):
    """v1.1 -> develop: the security schemes plus global and per-operation requirements, nothing else."""
    found = specdiff.diff_files(
        reference_dir / SPEC_NAME, reference_dir / "develop" / SPEC_NAME, reference_dir=reference_dir
    )
    assert _pairs(found) == {
        ("added", "components.securitySchemes.BasicAuth"),
        ("added", "components.securitySchemes.BearerAuth"),
        ("added", "security"),
    } | {("added", f"paths.{path}.{method}.security") for path, method in OPERATIONS}


# ------------------------------------------------------------ spec-diff rules


def test_identical_documents_have_no_differences():
    """A document compared with itself yields nothing."""
    assert specdiff.differences(_ours(), _ours()) == []


def test_prose_examples_and_extensions_are_ignored():
    """Descriptions, summaries, examples and x- keys do not count as differences."""
    changed = _ours()
    task = changed["components"]["schemas"]["tesTask"]
    task["description"] = "something else"
    task["properties"]["id"]["example"] = "other"
    changed["paths"]["/tasks"]["get"]["summary"] = "Other"
    changed["paths"]["/tasks"]["get"]["x-openapi-router-controller"] = "elsewhere"
    assert specdiff.differences(_ours(), changed) == []


def test_property_named_description_is_compared():
    """A schema property called `description` is structure, not prose."""
    changed = _ours()
    changed["components"]["schemas"]["tesTask"]["properties"]["description"]["type"] = "integer"
    assert specdiff.differences(_ours(), changed) == [
        Difference("changed", "components.schemas.tesTask.properties.description.type", "string", "integer")
    ]


def test_enum_required_and_default_changes_are_reported_by_member():
    """Enum values and required names are compared as sets; defaults as values."""
    changed = _ours()
    schemas = changed["components"]["schemas"]
    schemas["tesState"]["enum"].append("ARCHIVED")
    schemas["tesState"]["enum"].reverse()
    schemas["tesTask"]["required"] = []
    schemas["tesResources"]["properties"]["backend_parameters_strict"]["default"] = True
    assert set(specdiff.differences(_ours(), changed)) == {
        Difference("added", "components.schemas.tesState.enum[ARCHIVED]"),
        Difference("removed", "components.schemas.tesTask.required[executors]"),
        Difference("changed", "components.schemas.tesResources.properties.backend_parameters_strict.default", False, True),
    }


def test_parameters_are_compared_through_their_refs():
    """A change to the shared view parameter shows in each operation that uses it."""
    changed = _ours()
    changed["components"]["parameters"]["view"]["schema"]["default"] = "FULL"
    changed["paths"]["/tasks"]["get"]["parameters"].append({"name": "owner", "in": "query", "schema": {"type": "string"}})
    assert _pairs(specdiff.differences(_ours(), changed)) == {
        ("changed", "paths./tasks.get.parameters.query:view.schema.default"),
        ("changed", "paths./tasks/{id}.get.parameters.query:view.schema.default"),
        ("added", "paths./tasks.get.parameters.query:owner"),
    }


def test_paths_operations_and_schemas_added_and_removed():
    """Removed paths, added operations and removed schemas are each one line."""
    changed = _ours()
    del changed["paths"]["/service-info"]
    changed["paths"]["/tasks/{id}"]["delete"] = {"operationId": "DeleteTask", "responses": {"200": {"description": ""}}}
    del changed["components"]["schemas"]["tesCancelTaskResponse"]
    assert _pairs(specdiff.differences(_ours(), changed)) == {
        ("removed", "paths./service-info"),
        ("added", "paths./tasks/{id}.delete"),
        ("removed", "components.schemas.tesCancelTaskResponse"),
    }


def test_unknown_external_ref_is_an_error(tmp_path, reference_dir):
    """An external $ref with no local copy fails with a message naming it instead of fetching it."""
    document = copy.deepcopy(_ours())
    document["components"]["schemas"]["tesTask"]["properties"]["owner"] = {
        "$ref": "https://example.org/other.yaml#/components/schemas/Owner"
    }
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(specdiff.SpecDiffError, match=r"example\.org/other\.yaml"):
        specdiff.load_document(path, reference_dir=reference_dir)


def test_cli_exit_codes(reference_dir, capsys):
    """Exit 0 with or without differences, 1 with --fail-on-diff and differences, 2 for an unreadable file."""
    release = str(reference_dir / SPEC_NAME)
    assert specdiff.main([release, str(OURS), "--reference", str(reference_dir)]) == 0
    assert "added components.schemas.ErrorResponse" in capsys.readouterr().out
    assert specdiff.main([str(OURS), str(OURS), "--fail-on-diff"]) == 0
    assert capsys.readouterr().out == "no structural differences\n"
    assert specdiff.main([release, "--fail-on-diff", "--reference", str(reference_dir)]) == 1
    assert specdiff.main(["/nonexistent.yaml"]) == 2


def test_spec_diff_script_runs(reference_dir):
    """scripts/spec-diff prints the differences of a document against our newest document (1.2) by default."""
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "spec-diff"), str(reference_dir / SPEC_NAME)],
        capture_output=True, text=True, check=False, env={"POIESIS_TES_REFERENCE": str(reference_dir), "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert 'changed components.schemas.tesResources.properties.cpu_cores.type: "integer" -> "number"' in done.stdout
