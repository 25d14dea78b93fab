# DO NOT EDIT. Generated from openapi/v1.2/task_execution_service.openapi.yaml by scripts/generate;
# edit the OpenAPI document and run scripts/generate again.
# Command: scripts/generate (datamodel-codegen 0.89.0 --input openapi/v1.2/task_execution_service.openapi.yaml --input-file-type openapi --openapi-scopes schemas paths --output-model-type pydantic_v2.BaseModel --target-python-version 3.11 --target-pydantic-version 2 --formatters builtin --disable-timestamp --no-allow-remote-refs --use-annotated --field-constraints --use-standard-collections --use-union-operator --use-specialized-enum --enum-field-as-literal none --deserialize-default-values enum --default-values {"TesInput.type": null, "TesOutput.type": null, "TesResources.backend_parameters_strict": null, "TesTask.state": null} --output-datetime-class AwareDatetime --no-collapse-root-models --use-double-quotes --use-schema-description --use-field-description --type-overrides {"TesResources.cpu_cores": "int | float"})

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AnyUrl, AwareDatetime, BaseModel, Field


class BackendParameter(BaseModel):
    parameter: Annotated[str, Field(examples=["priority_class"])]
    """
    The key, lower case.
    """
    value: Annotated[str | None, Field(examples=["system-node-critical"])] = None
    """
    The value the task gave.
    """
    setting: Annotated[str, Field(examples=["POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES"])]
    """
    The server setting that allows this key and its values.
    """
    reason: str
    """
    Why the entry is refused.
    """


class ErrorResponse(BaseModel):
    """
    An error, as an RFC 7807 problem document. Connexion's own validation
    errors have this shape, and so does every error Poiesis returns.
    """

    type: Annotated[str | None, Field(examples=["about:blank"])] = None
    """
    URI naming the kind of problem; `about:blank` when it is only the HTTP status.
    """
    title: Annotated[str, Field(examples=["Bad Request"])]
    """
    Short summary of the kind of problem.
    """
    status: Annotated[int, Field(examples=[400])]
    """
    The HTTP status code of the response.
    """
    detail: Annotated[
        str | None,
        Field(examples=["'4' is not of type 'integer' - 'resources.cpu_cores'"]),
    ] = None
    """
    What went wrong in this request, naming the field when one is at fault.
    """
    instance: str | None = None
    """
    URI of this occurrence of the problem, when the server sets one.
    """
    backend_parameters: list[BackendParameter] | None = None
    """
    CreateTask only: each `resources.backend_parameters` entry the server's
    settings do not allow, with the setting that would allow it.
    """


class TesCancelTaskResponse(BaseModel):
    """
    Body of a CancelTask response; empty.
    """


class TesCreateTaskResponse(BaseModel):
    """
    Body of a CreateTask response.
    """

    id: str
    """
    The id the server gave the new task.
    """


class TesExecutor(BaseModel):
    """
    One container command of a task, with its environment.
    """

    image: Annotated[str, Field(examples=["ubuntu:20.04"])]
    """
    Container image to run, as given to the container runtime (e.g. `ubuntu:22.04`, `quay.io/org/tool:1.0`).
    """
    command: Annotated[list[str], Field(examples=[["/bin/md5", "/data/file1"]])]
    """
    Program and arguments (argv) to run in the container; the first item is the program.
    """
    workdir: Annotated[str | None, Field(examples=["/data/"])] = None
    """
    Directory the command runs in; the image's working directory when absent.
    """
    stdin: Annotated[str | None, Field(examples=["/data/file1"])] = None
    """
    Absolute path of a file in the container to feed to the command's standard input.
    """
    stdout: Annotated[str | None, Field(examples=["/tmp/stdout.log"])] = None
    """
    Absolute path of a file in the container that receives the command's standard output.
    """
    stderr: Annotated[str | None, Field(examples=["/tmp/stderr.log"])] = None
    """
    Absolute path of a file in the container that receives the command's standard error.
    """
    env: Annotated[
        dict[str, str] | None, Field(examples=[{"BLASTDB": "/data/GRC38"}])
    ] = None
    """
    Environment variables set in the container.
    """
    ignore_error: bool | None = None
    """
    When true, a non-zero exit of this executor is recorded but the
    next executor still runs. By default the first failure stops the task.
    """


class TesExecutorLog(BaseModel):
    """
    What happened when one executor ran.
    """

    start_time: Annotated[str | None, Field(examples=["2020-10-02T10:00:00-05:00"])] = (
        None
    )
    """
    When the executor started (RFC 3339).
    """
    end_time: Annotated[str | None, Field(examples=["2020-10-02T11:00:00-05:00"])] = (
        None
    )
    """
    When the executor ended (RFC 3339).
    """
    stdout: str | None = None
    """
    Some of the executor's standard output, for convenience only (the
    server may keep only part of it). To keep all of it, set
    `tesExecutor.stdout` and upload that file as an output.
    """
    stderr: str | None = None
    """
    Some of the executor's standard error, for convenience only (the
    server may keep only part of it). To keep all of it, set
    `tesExecutor.stderr` and upload that file as an output.
    """
    exit_code: int
    """
    The executor's exit code.
    """


class TesFileType(StrEnum):
    """
    Whether an input or output is a single file or a directory. Clients may
    leave it out; the server fills it in once it knows.
    """

    FILE = "FILE"
    DIRECTORY = "DIRECTORY"


class TesInput(BaseModel):
    """
    A file or directory placed in the container before the executors run.
    """

    name: str | None = None
    description: str | None = None
    url: Annotated[str | None, Field(examples=["s3://my-object-store/file1"])] = None
    """
    Where to fetch the input from (e.g. `s3://bucket/key`,
    `https://host/file`, `file:///path`). Required unless `content` is set.
    """
    path: Annotated[str, Field(examples=["/data/file1"])]
    """
    Absolute path at which the input appears in the container.
    """
    type: TesFileType | None = None
    content: str | None = None
    """
    The input's text itself (UTF-8), instead of a `url`; when set, `url`
    is ignored. Servers accept at least 128 KiB.
    """
    streamable: bool | None = None
    """
    A hint that the input may be read through a streaming mount instead
    of being copied first. Servers may ignore it.
    """


class TesOutput(BaseModel):
    """
    A file or directory uploaded from the container after the executors run.
    """

    name: str | None = None
    """
    Name of the output, for the user.
    """
    description: str | None = None
    """
    Free text about the output, for the user.
    """
    url: str
    """
    Where the server uploads the output once the executors are done
    (e.g. `s3://bucket/key`, `file:///path`). When `path` has wildcards
    this names a directory and `path_prefix` says how each file's URL
    is built.
    """
    path: str
    """
    Absolute path of the output in the container. May hold POSIX
    shell wildcards (IEEE Std 1003.1-2017, 2.13) to match several files.
    """
    path_prefix: str | None = None
    """
    With a wildcard `path`: the prefix cut from each matched path before
    the rest is appended to `url`. Ignored without wildcards.
    """
    type: TesFileType | None = None


class TesOutputFileLog(BaseModel):
    """
    One file that was uploaded after the task ran.
    """

    url: str
    """
    Where the file was uploaded.
    """
    path: str
    """
    Absolute path of the file in the container.
    """
    size_bytes: Annotated[str, Field(examples=["1024"])]
    """
    Size of the file in bytes, as a decimal string (JSON numbers cannot hold every int64).
    """


class TesResources(BaseModel):
    """
    Compute resources a task asks for.
    """

    cpu_cores: Annotated[int | float | None, Field(examples=[0.5])] = None
    """
    Number of CPU cores requested; may be fractional (0.5 is half a
    core, several such tasks may share one core). Poiesis requests it
    rounded up to a whole number of millicores.
    """
    preemptible: Annotated[bool | None, Field(examples=[False])] = None
    """
    Whether the task may run on compute that can be taken away (spot
    instances and the like). Backends without such a notion ignore it.
    """
    ram_gb: Annotated[float | None, Field(examples=[8.5])] = None
    """
    Memory requested, in gigabytes; may be fractional. Poiesis requests
    it rounded up to a whole number of bytes.
    """
    disk_gb: Annotated[float | None, Field(examples=[40.5])] = None
    """
    Disk space requested, in gigabytes; may be fractional. Poiesis
    requests it rounded up to a whole number of bytes.
    """
    zones: Annotated[list[str] | None, Field(examples=[["us-west-1"]])] = None
    """
    Compute zones to run in; what a zone means depends on the backend.
    """
    backend_parameters: Annotated[
        dict[str, str] | None, Field(examples=[{"VmSize": "Standard_D64_v3"}])
    ] = None
    """
    Backend-specific settings as key/value pairs; keys are not case
    sensitive. service-info lists the keys this server supports.
    Unsupported keys are dropped with a warning in the task's system
    logs, or fail the task when `backend_parameters_strict` is true.
    """
    backend_parameters_strict: Annotated[bool | None, Field(examples=[False])] = None
    """
    When true, a task naming a backend parameter the server does not support fails.
    """


class Artifact(StrEnum):
    """
    Name of the API implemented.
    """

    tes = "tes"


class TesState(StrEnum):
    """
    Where a task is in its life, as the server sees it.

    - `UNKNOWN`: the state cannot be told; also the value to assume when the field is missing.
    - `QUEUED`: accepted and waiting for resources.
    - `INITIALIZING`: resources are assigned and being prepared (e.g. inputs downloading).
    - `RUNNING`: inputs are in place and the first executor has started.
    - `PAUSED`: held by the system; not every server can pause.
    - `COMPLETE`: every executor succeeded and every output was uploaded.
    - `EXECUTOR_ERROR`: an executor failed, usually with a non-zero exit code.
    - `SYSTEM_ERROR`: the system failed outside any executor (e.g. an upload or the node).
    - `CANCELED`: canceled by the user and every resource it used is released.
    - `CANCELING`: canceled by the user; resources are still being released.
    - `PREEMPTED`: stopped because the system took its compute back.
    """

    UNKNOWN = "UNKNOWN"
    QUEUED = "QUEUED"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETE = "COMPLETE"
    EXECUTOR_ERROR = "EXECUTOR_ERROR"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    CANCELED = "CANCELED"
    PREEMPTED = "PREEMPTED"
    CANCELING = "CANCELING"


class TesTaskLog(BaseModel):
    """
    Logs of one attempt to run a task.
    """

    logs: list[TesExecutorLog]
    """
    One entry per executor that ran.
    """
    metadata: Annotated[
        dict[str, str] | None, Field(examples=[{"host": "worker-001"}])
    ] = None
    """
    Extra facts the server records about the attempt.
    """
    start_time: Annotated[str | None, Field(examples=["2020-10-02T10:00:00-05:00"])] = (
        None
    )
    """
    When the attempt started (RFC 3339).
    """
    end_time: Annotated[str | None, Field(examples=["2020-10-02T11:00:00-05:00"])] = (
        None
    )
    """
    When the attempt ended (RFC 3339).
    """
    outputs: list[TesOutputFileLog]
    """
    Every file uploaded; a directory output lists each of its files.
    """
    system_logs: list[str] | None = None
    """
    Messages from the server about the attempt that belong to no
    executor, such as why it ended in SYSTEM_ERROR. Only in the FULL view.
    """


class Organization(BaseModel):
    """
    Who runs the service.
    """

    name: Annotated[str, Field(examples=["Example Lab"])]
    """
    Name of the organization.
    """
    url: Annotated[AnyUrl, Field(examples=["https://example.org"])]
    """
    Web site of the organization (RFC 3986).
    """


class ServiceType(BaseModel):
    """
    Which GA4GH API a service implements.
    """

    group: Annotated[str, Field(examples=["org.ga4gh"])]
    """
    Namespace of the API in reverse domain name style; `org.ga4gh` for GA4GH standards.
    """
    artifact: Annotated[str, Field(examples=["tes"])]
    """
    Name of the API implemented.
    """
    version: Annotated[str, Field(examples=["1.2.0"])]
    """
    Version of the API implemented.
    """


class View(StrEnum):
    MINIMAL = "MINIMAL"
    BASIC = "BASIC"
    FULL = "FULL"


class TesServiceType(ServiceType):
    artifact: Annotated[Artifact, Field(examples=["tes"])]
    """
    Name of the API implemented.
    """


class TesTask(BaseModel):
    """
    A task, as submitted and as the server reports it.
    """

    id: Annotated[str | None, Field(examples=["job-0012345"])] = None
    """
    The task's id, given by the server.
    """
    state: TesState | None = None
    name: str | None = None
    """
    Name of the task, for the user.
    """
    description: str | None = None
    """
    Free text about the task, for the user.
    """
    inputs: Annotated[
        list[TesInput] | None,
        Field(
            examples=[[{"url": "s3://my-object-store/file1", "path": "/data/file1"}]]
        ),
    ] = None
    """
    Files and directories fetched into the container before the executors run.
    """
    outputs: Annotated[
        list[TesOutput] | None,
        Field(
            examples=[[{"path": "/data/outfile", "url": "s3://my-object-store/outfile-1", "type": "FILE"}]]
        ),
    ] = None
    """
    Files and directories uploaded from the container after the executors run.
    """
    resources: TesResources | None = None
    executors: list[TesExecutor]
    """
    Commands to run, one after another. All of them see the same inputs,
    outputs and volumes at the same paths, and each may use its own
    image. The first failure stops the task, unless that executor sets
    `ignore_error`.
    """
    volumes: Annotated[list[str] | None, Field(examples=[["/vol/A/"]])] = None
    """
    Absolute paths of empty directories shared by all executors, so one
    executor can leave files for the next.
    """
    tags: Annotated[
        dict[str, str] | None,
        Field(examples=[{"WORKFLOW_ID": "cwl-01234", "PROJECT_GROUP": "alice-lab"}]),
    ] = None
    """
    Free key/value labels for the task; ListTasks can filter on them.
    """
    logs: list[TesTaskLog] | None = None
    """
    Logs of each attempt to run the task; normally one entry, more when
    the task was retried.
    """
    creation_time: Annotated[
        str | None, Field(examples=["2020-10-02T10:00:00-05:00"])
    ] = None
    """
    When the server accepted the task (RFC 3339); set by the server.
    """


class Service(BaseModel):
    """
    A GA4GH service.
    """

    id: Annotated[str, Field(examples=["org.example.poiesis"])]
    """
    Globally unique id of the service, reverse domain name style.
    """
    name: Annotated[str, Field(examples=["Poiesis"])]
    """
    Human-readable name of the service.
    """
    type: ServiceType
    description: str | None = None
    """
    Human-readable description of the service.
    """
    organization: Organization
    """
    Who runs the service.
    """
    contactUrl: Annotated[AnyUrl | None, Field(examples=["mailto:tes@example.org"])] = (
        None
    )
    """
    How to reach the operators (RFC 3986 URL or RFC 2368 mailto link).
    """
    documentationUrl: AnyUrl | None = None
    """
    Where the service's documentation is (RFC 3986).
    """
    createdAt: AwareDatetime | None = None
    """
    When the service was first deployed (RFC 3339).
    """
    updatedAt: AwareDatetime | None = None
    """
    When the service was last updated (RFC 3339).
    """
    environment: Annotated[str | None, Field(examples=["test"])] = None
    """
    Kind of deployment, such as prod, test, dev or staging.
    """
    version: Annotated[str, Field(examples=["0.1.0"])]
    """
    Version of the service software.
    """


class TesListTasksResponse(BaseModel):
    """
    Body of a ListTasks response.
    """

    tasks: list[TesTask]
    """
    The tasks of this page, shaped by `view`.
    """
    next_page_token: str | None = None
    """
    Pass as `page_token` to get the next page; absent on the last page.
    """


class TesServiceInfo(Service):
    storage: Annotated[list[str] | None, Field(examples=[["s3://", "https://"]])] = None
    """
    Storage locations (URL schemes or prefixes) the server can read inputs from and write outputs to.
    """
    tesResources_backend_parameters: Annotated[
        list[str] | None, Field(examples=[["VmSize"]])
    ] = None
    """
    Every `tesResources.backend_parameters` key the server supports.
    """
    type: TesServiceType
