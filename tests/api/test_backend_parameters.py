"""backend_parameters under the operator's allowlists, over HTTP against real PostgreSQL (issue 21, finding 7).

The backend stores tasks and runs none (``NoBackend``); its parameter policy is the
Kubernetes backend's own (``build.parameter_policy``), built from settings read the
way ``poiesis api`` reads them.
"""

from __future__ import annotations

import pytest

from poiesis import scheduling
from poiesis.backend import NoBackend
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from tests.api.schema import conforms
from tests.tasks import HOSTILE_PARAMETERS

EXECUTORS = [{"image": "alpine", "command": ["true"]}]


def _serve(serve_app, **env: str):
    backend = NoBackend()
    backend.parameters = build.parameter_policy(KubeSettings.from_env(env))
    return serve_app(backend=backend)


def _post(client, params: dict[str, str], **resources):
    return client.post("/tasks", json={"executors": EXECUTORS,
                                       "resources": {"backend_parameters": params, **resources}})


def _refused(response, *needles: str) -> list[dict]:
    assert response.status_code == 400, response.text
    body = response.json()
    conforms(body, "ErrorResponse")
    for needle in needles:
        assert needle in body["detail"], body
    return body["backend_parameters"]


@pytest.mark.parametrize(("params", "setting"), HOSTILE_PARAMETERS, ids=[s for _, s in HOSTILE_PARAMETERS])
def test_a_parameter_the_settings_do_not_allow_is_a_400_naming_it_and_its_setting(serve_app, params, setting):
    """Default settings allow nothing: each parameter is refused, strict or not, and nothing is stored."""
    client = _serve(serve_app)
    (key, value), = params.items()
    for strict in (False, True):
        (entry,) = _refused(_post(client, params, backend_parameters_strict=strict), key.lower(), setting)
        reason = (f"{value!r} is not a whole number from 1 to {scheduling.MOST_SECONDS} (the maximum is {setting})"
                  if key.lower() == scheduling.TIME_LIMIT else f"not allowed on this server (enabled by {setting})")
        assert entry == {"parameter": key.lower(), "value": value, "setting": setting, "reason": reason}
    assert client.get("/tasks").json()["tasks"] == []


def test_a_value_outside_the_allowlist_is_a_400_naming_parameter_value_and_setting(serve_app):
    """A non-empty allowlist takes its values only; every refused entry is named at once."""
    client = _serve(serve_app, POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES="batch-low, batch-high",
                    POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES="gvisor",
                    POIESIS_KUBE_ALLOWED_NODE_SELECTORS="pool=batch,disk",
                    POIESIS_MAX_TASK_SECONDS="3600")
    hostile = {"priority_class": "system-node-critical", "runtime_class": "runc",
               "node_selector": "pool=gpu", "active_deadline_seconds": "3601"}
    entries = _refused(_post(client, hostile), "'system-node-critical'", "POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES")
    assert {e["parameter"]: (e["value"], e["setting"]) for e in entries} == {
        "priority_class": ("system-node-critical", "POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES"),
        "runtime_class": ("runc", "POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES"),
        "node_selector": ("pool=gpu", "POIESIS_KUBE_ALLOWED_NODE_SELECTORS"),
        "active_deadline_seconds": ("3601", "POIESIS_MAX_TASK_SECONDS"),
    }
    _refused(_post(client, {"node_selector": "disk=ssd,kubernetes.io/hostname=cp"}), "kubernetes.io/hostname")
    _refused(_post(client, {"node_selector": "disk=$(reboot)"}), "not a label value")
    _refused(_post(client, {"active_deadline_seconds": "soon"}), "'soon' is not a whole number from 1 to 3600")
    assert client.get("/tasks").json()["tasks"] == []


def test_allowed_parameters_are_stored_with_lower_case_keys(serve_app):
    """Allowed values pass; keys are stored lower case; unknown keys are still dropped with a warning."""
    client = _serve(serve_app, POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES="batch-low",
                    POIESIS_KUBE_ALLOWED_NODE_SELECTORS="pool=batch,disk")
    params = {"Priority_Class": "batch-low", "node_selector": "pool=batch,disk=ssd", "VmSize": "big"}
    response = _post(client, params)
    assert response.status_code == 200, response.text
    task = client.get(f"/tasks/{response.json()['id']}", params={"view": "FULL"}).json()
    assert task["resources"]["backend_parameters"] == {"priority_class": "batch-low", "node_selector": "pool=batch,disk=ssd"}
    assert task["logs"][0]["system_logs"] == ["warning: backend_parameters not supported and ignored: VmSize"]


def test_strict_names_only_the_allowed_keys_as_supported(serve_app):
    """With backend_parameters_strict an unknown key is a 400 listing the keys the settings allow."""
    client = _serve(serve_app, POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES="gvisor")
    response = _post(client, {"VmSize": "big"}, backend_parameters_strict=True)
    assert response.status_code == 400
    assert response.json()["detail"].endswith("(supported: active_deadline_seconds, runtime_class)")


@pytest.mark.parametrize(
    ("env", "listed"),
    [({}, ["active_deadline_seconds"]),
     ({"POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES": "gvisor"}, ["active_deadline_seconds", "runtime_class"]),
     ({"POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES": "low", "POIESIS_KUBE_ALLOWED_NODE_SELECTORS": "pool",
       "POIESIS_MAX_TASK_SECONDS": "60"},
      ["active_deadline_seconds", "node_selector", "priority_class"]),
     ({"POIESIS_KUBE_MAX_GPUS": "2"}, ["active_deadline_seconds", "gpu"]),
     ({"POIESIS_KUBE_MAX_GPUS": "2", "POIESIS_KUBE_GPU_TYPES": '{"a100": {"m": "A100"}}'},
      ["active_deadline_seconds", "gpu", "gpu_type"])],
)
def test_service_info_lists_only_the_allowed_parameters(serve_app, env, listed):
    """tesResources_backend_parameters follows the settings: a key whose allowlist is empty is not listed."""
    assert _serve(serve_app, **env).get("/service-info").json()["tesResources_backend_parameters"] == listed


def test_gpus_over_http(serve_app):
    """gpu refused until allowed, naming POIESIS_KUBE_MAX_GPUS; above the maximum, or gpu_type alone, a 400 too."""
    (entry,) = _refused(_post(_serve(serve_app), {"gpu": "1"}), "POIESIS_KUBE_MAX_GPUS")
    assert entry["parameter"] == "gpu"
    client = _serve(serve_app, POIESIS_KUBE_MAX_GPUS="2", POIESIS_KUBE_GPU_TYPES='{"a100": {"m": "A100"}}')
    _refused(_post(client, {"gpu": "3"}), "'3' is not a whole number from 1 to 2")
    _refused(_post(client, {"gpu_type": "a100"}), "needs resources.backend_parameters.gpu too")
    _refused(_post(client, {"gpu": "1", "gpu_type": "h100"}), "POIESIS_KUBE_GPU_TYPES allows a100")
    assert _post(client, {"gpu": "2", "gpu_type": "a100"}).status_code == 200
