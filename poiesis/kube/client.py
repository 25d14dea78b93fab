"""The thin adapter to the Kubernetes API: plain dicts in and out, our own exceptions.

Callers (the backend, TRec, TCtl) never see kubernetes client models: every
call asks for the raw JSON, so objects look exactly as ``pod_outcome`` and
the tests' recorded Pods expect, and decoding stays cheap for informers.
No decisions here: each method is one API request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger(__name__)

BACKGROUND = {"propagationPolicy": "Background"}


class KubeError(Exception):
    """A Kubernetes API request failed; ``status`` is the HTTP status (0 when none)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    """404."""


class Conflict(KubeError):
    """409: already exists, or the resourceVersion moved on."""


class Expired(KubeError):
    """410: the watch's resourceVersion is too old; list again."""


def _wrap(exc: ApiException) -> KubeError:
    status = int(exc.status or 0)
    kind = {404: NotFound, 409: Conflict, 410: Expired}.get(status, KubeError)
    return kind(f"{exc.status} {exc.reason}", status=status)


def api_client(kubeconfig: str | None = None) -> k8s.ApiClient:
    """An ApiClient from a kubeconfig file, else the in-cluster service account."""
    if kubeconfig:
        return k8s_config.new_client_from_config(config_file=kubeconfig)
    try:
        configuration = k8s.Configuration()
        k8s_config.load_incluster_config(client_configuration=configuration)
        return k8s.ApiClient(configuration)
    except k8s_config.ConfigException:
        return k8s_config.new_client_from_config()


class Kube:
    """One namespace of one cluster, seen as JSON dicts."""

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.core = k8s.CoreV1Api(api)
        self.batch = k8s.BatchV1Api(api)
        self.coordination = k8s.CoordinationV1Api(api)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            resp = fn(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise _wrap(exc) from exc
        data = resp.data
        return json.loads(data) if data else {}

    # -- create / delete --------------------------------------------------------

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.batch.create_namespaced_job, self.namespace, body)

    def resume_job(self, name: str) -> dict[str, Any]:
        return self._call(self.batch.patch_namespaced_job, name, self.namespace, {"spec": {"suspend": False}})

    def create_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.core.create_namespaced_secret, self.namespace, body)

    def create_pvc(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.core.create_namespaced_persistent_volume_claim, self.namespace, body)

    def delete_job(self, name: str) -> bool:
        """Delete a Job and, in the background, its Pod and owned objects; False when it was not there."""
        try:
            self._call(self.batch.delete_namespaced_job, name, self.namespace, body=BACKGROUND)
        except NotFound:
            return False
        return True

    def delete_pods(self, *, label_selector: str, grace_period_seconds: int) -> None:
        """Delete the matching Pods, giving their containers ``grace_period_seconds`` after SIGTERM."""
        self._call(self.core.delete_collection_namespaced_pod, self.namespace, label_selector=label_selector,
                   grace_period_seconds=grace_period_seconds)

    # -- read ---------------------------------------------------------------------

    def get_pod(self, name: str) -> dict[str, Any] | None:
        try:
            return self._call(self.core.read_namespaced_pod, name, self.namespace)
        except NotFound:
            return None

    def get_job(self, name: str) -> dict[str, Any] | None:
        try:
            return self._call(self.batch.read_namespaced_job, name, self.namespace)
        except NotFound:
            return None

    def list_pods(self, **selectors: str) -> tuple[list[dict[str, Any]], str]:
        """Pods matching label_selector/field_selector, and the list's resourceVersion."""
        body = self._call(self.core.list_namespaced_pod, self.namespace, **selectors)
        return body.get("items") or [], body["metadata"]["resourceVersion"]

    def list_jobs(self, **selectors: str) -> list[dict[str, Any]]:
        return self._call(self.batch.list_namespaced_job, self.namespace, **selectors).get("items") or []

    def list_events(self, **selectors: str) -> list[dict[str, Any]]:
        """core/v1 Events matching field_selector (e.g. involvedObject.kind=Job,reason=FailedCreate)."""
        return self._call(self.core.list_namespaced_event, self.namespace, **selectors).get("items") or []

    def watch_pods(self, *, resource_version: str, timeout_s: int, **selectors: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, object) from a watch starting after ``resource_version``; Expired on 410."""
        options: dict[str, Any] = dict(selectors)
        try:
            # _preload_content=False: the raw urllib3 response, not the V1PodList of the stubs
            resp: Any = self.core.list_namespaced_pod(
                self.namespace,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_s,
                _preload_content=False,
                _request_timeout=(10, timeout_s + 15),
                **options,
            )
        except ApiException as exc:
            raise _wrap(exc) from exc
        try:
            for line in iter_resp_lines(resp):
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    obj = event.get("object") or {}
                    code = int(obj.get("code") or 0)
                    raise (Expired if code == 410 else KubeError)(obj.get("message", "watch error"), status=code)
                yield event["type"], event["object"]
        finally:
            resp.release_conn()

    def log_tail(self, pod: str, container: str, *, max_bytes: int, max_lines: int = 500) -> str | None:
        """The last ``max_bytes`` of a container's log, or None when the kubelet cannot give it."""
        try:
            resp: Any = self.core.read_namespaced_pod_log(  # raw response: _preload_content=False
                pod,
                self.namespace,
                container=container,
                tail_lines=max_lines,
                limit_bytes=max(max_bytes * 4, 65536),
                _preload_content=False,
                _request_timeout=(5, 20),
            )
            text = resp.data.decode("utf-8", errors="replace")
        except Exception as exc:  # noqa: BLE001 - logs are best effort; no kubelet, no tail
            log.debug("no log for %s/%s: %s", pod, container, exc)
            return None
        encoded = text.encode("utf-8")
        return encoded[-max_bytes:].decode("utf-8", errors="ignore") if len(encoded) > max_bytes else text

    # -- leases -------------------------------------------------------------------

    def get_lease(self, name: str) -> dict[str, Any] | None:
        try:
            return self._call(self.coordination.read_namespaced_lease, name, self.namespace)
        except NotFound:
            return None

    def create_lease(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.coordination.create_namespaced_lease, self.namespace, body)

    def replace_lease(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace guarded by body.metadata.resourceVersion; Conflict when someone else wrote first."""
        return self._call(self.coordination.replace_namespaced_lease, name, self.namespace, body)
