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

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from urllib3.exceptions import HTTPError

log = logging.getLogger(__name__)

BACKGROUND = {"propagationPolicy": "Background"}
#: connect and read timeouts of a create (seconds): an API server slower than that is "no answer"
_CREATE_TIMEOUT = urllib3.Timeout(connect=10, read=30)
#: what a create asks back: the object's metadata only (name, uid, labels), not the whole object
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"


class KubeError(Exception):
    """A Kubernetes API request failed; ``status`` is the HTTP status (0 when none)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


#: statuses worth another try: no answer (0), too many requests, the API server or its proxy failing
TRANSIENT = frozenset({0, 429, 500, 502, 503, 504})


def transient(exc: KubeError) -> bool:
    """The request may succeed if repeated later (as opposed to a refusal: invalid, forbidden...)."""
    return exc.status in TRANSIENT


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


def api_client(kubeconfig: str | None = None, *, connections: int = 0) -> k8s.ApiClient:
    """An ApiClient from a kubeconfig file, else the in-cluster service account.

    ``connections``: keep-alive connections to the API server (0: the client's default,
    5 per CPU); give at least the number of threads that call concurrently, or urllib3
    discards the extra connections and every request pays a new TLS handshake.
    """
    configuration = k8s.Configuration()
    if connections:
        configuration.connection_pool_maxsize = connections
    if kubeconfig:
        k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        return k8s.ApiClient(configuration)
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except k8s_config.ConfigException:
        k8s_config.load_kube_config(client_configuration=configuration)
    return k8s.ApiClient(configuration)


class Kube:
    """One namespace of one cluster, seen as JSON dicts."""

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.core = k8s.CoreV1Api(api)
        self.batch = k8s.BatchV1Api(api)
        self.coordination = k8s.CoordinationV1Api(api)
        #: the API server's URL, read once (the client's property consults the proxy environment every time)
        self._host = api.configuration.host

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            resp = fn(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise _wrap(exc) from exc
        except (HTTPError, OSError) as exc:  # no answer at all: connection refused, reset, timed out
            raise KubeError(f"no answer from the API server: {exc}", status=0) from exc
        data = resp.data
        return json.loads(data) if data else {}

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body straight through the client's connection pool and auth; the created object's metadata.

        The per-task creates are the hot path of submission: the generated client spent
        about 5 ms of CPU per request converting and validating a body that is already
        plain JSON, in the API process whose threads also answer CreateTask. The answer is
        asked for as ``PartialObjectMetadata``: the caller needs the name and uid, not the
        whole object back (a Job's answer is 4-10 KiB that the API server would encode and
        this process decode, on the cores they share).
        """
        headers = {"Content-Type": "application/json", "Accept": METADATA_ONLY}
        self.api.update_params_for_auth(headers, [], ["BearerToken"], path, "POST", None)
        try:
            resp = self.api.rest_client.pool_manager.request(
                "POST", self._host + path, body=json.dumps(body, separators=(",", ":")).encode(),
                headers=headers, timeout=_CREATE_TIMEOUT,
            )
        except (HTTPError, OSError) as exc:
            raise KubeError(f"no answer from the API server: {exc}", status=0) from exc
        if resp.status >= 400:
            kind = {404: NotFound, 409: Conflict, 410: Expired}.get(resp.status, KubeError)
            raise kind(f"{resp.status} {resp.reason}: {resp.data[:300].decode(errors='replace')}", status=resp.status)
        return json.loads(resp.data)

    # -- create / delete --------------------------------------------------------

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Job; its metadata (``_post``)."""
        return self._post(f"/apis/batch/v1/namespaces/{self.namespace}/jobs", body)

    def resume_job(self, name: str) -> dict[str, Any]:
        return self._call(self.batch.patch_namespaced_job, name, self.namespace, {"spec": {"suspend": False}})

    def create_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(f"/api/v1/namespaces/{self.namespace}/secrets", body)

    def create_pvc(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims", body)

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
        """Pods matching label_selector/field_selector, and the list's resourceVersion (one unpaged list)."""
        items, version, _ = self.list_pods_page(limit=0, **selectors)
        return items, version

    def list_pods_page(self, *, limit: int, token: str | None = None,
                       **selectors: str) -> tuple[list[dict[str, Any]], str, str | None]:
        """One page of at most ``limit`` matching Pods (0: all), the list's resourceVersion, the next page's token.

        ``token`` is the previous page's: every page of one list comes from the same
        snapshot and carries its resourceVersion. Expired (410) once the token is too old.
        """
        body = self._call(self.core.list_namespaced_pod, self.namespace, limit=limit or None, _continue=token, **selectors)
        meta = body["metadata"]
        return body.get("items") or [], meta["resourceVersion"], meta.get("continue") or None

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
