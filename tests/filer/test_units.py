"""Pure helpers: redaction, retry policy, URL joins (TES path mapping: tests/test_layout.py)."""

from __future__ import annotations

import re

import pytest

from poiesis.filer import SUPPORTED_SCHEMES, FilerConfig, FilerError, RetryPolicy
from poiesis.filer.errors import TransientError, hide, public_url, redact
from poiesis.filer.spec import Input, Output, task_files
from poiesis.filer.transfer import join_url, with_retries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ftp://bob:hunter2@h:21/x failed", "ftp://***@h:21/x failed"),
        ("see https://tok@example.invalid/a", "see https://***@example.invalid/a"),
        ("GET http://h/x?X-Amz-Signature=abc&k=1: 403", "GET http://h/x?***: 403"),
        ("s3://bucket/key: NoSuchKey", "s3://bucket/key: NoSuchKey"),
    ],
)
def test_redact_urls(text: str, expected: str) -> None:
    """Userinfo and query strings are removed from URLs, the rest is kept."""
    assert redact(text, secrets=()) == expected


def test_redact_secret_env_values() -> None:
    """The value of a secret environment variable (the filer settings' secrets) never survives redaction."""
    config = FilerConfig.from_env({"AWS_SECRET_ACCESS_KEY": "Sup3rSecret!"})
    assert config.secrets == ("Sup3rSecret!",) and "Sup3rSecret!" not in repr(config)
    assert redact("boom: key=Sup3rSecret!", secrets=config.secrets) == "boom: key=***"
    hide(config.secrets)  # what fetch_inputs, upload_outputs and the filer command do with their config
    assert str(FilerError("boom: key=Sup3rSecret!")) == "boom: key=***"


def test_filer_error_message_is_redacted() -> None:
    """A FilerError built from a URL with credentials does not carry them."""
    assert "pw" not in str(FilerError("ftp://u:pw@h/x: 530"))


def test_retry_policy_backoff_is_capped() -> None:
    """Delays double per attempt and never exceed max_delay."""
    policy = RetryPolicy(attempts=6, base_delay=1.0, factor=2.0, max_delay=5.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_with_retries_retries_transient_only() -> None:
    """Transient errors are retried with the policy's delays; success ends the loop."""
    calls, slept = [], []

    def op() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("reset")
        return "ok"

    policy = RetryPolicy(attempts=5, base_delay=0.5)
    assert with_retries(op, policy=policy, what="x", sleep=slept.append) == "ok"
    assert slept == [0.5, 1.0]


def test_with_retries_permanent_is_not_retried() -> None:
    """A FilerError (4xx, auth, missing) is raised at the first attempt."""
    calls = []

    def op() -> None:
        calls.append(1)
        raise FilerError("HTTP 403")

    with pytest.raises(FilerError, match="403"):
        with_retries(op, policy=RetryPolicy(attempts=5), what="x", sleep=lambda _: None)
    assert calls == [1]


def test_with_retries_gives_up() -> None:
    """After the last attempt a transient error becomes a FilerError saying how often it tried."""
    def op() -> None:
        raise TransientError("timeout")

    with pytest.raises(FilerError, match=r"x: timeout .gave up after 2 attempts"):
        with_retries(op, policy=RetryPolicy(attempts=2), what="x", sleep=lambda _: None)


def test_join_url_quotes_and_strips() -> None:
    """Relative paths are appended with one slash and percent-quoted."""
    assert join_url("s3://b/p/", "/a b/c.txt") == "s3://b/p/a%20b/c.txt"
    assert join_url("ftp://h/d", "x") == "ftp://h/d/x"


def test_supported_schemes() -> None:
    """service-info's storage list names every scheme the filers serve."""
    assert set(SUPPORTED_SCHEMES) == {"file", "http", "https", "s3", "ftp"}


def test_public_url_drops_credentials() -> None:
    """Output file log URLs lose userinfo and query (signatures) but keep the location."""
    assert public_url("ftp://u:p@h:21/a/b.txt") == "ftp://h:21/a/b.txt"
    assert public_url("https://h/o?X-Amz-Signature=s") == "https://h/o"
    assert public_url("s3://bucket/key") == "s3://bucket/key"


def test_task_files_reads_the_members_the_filers_use() -> None:
    """The task file's inputs and outputs become frozen values; other members are ignored."""
    files = task_files({
        "id": "t1", "executors": [{"image": "alpine", "command": ["true"]}], "tags": {"a": "b"},
        "inputs": [{"path": "/in", "url": "s3://b/k", "type": "DIRECTORY", "streamable": True}],
        "outputs": [{"path": "/o/*.txt", "url": "s3://b/o", "path_prefix": "/o/", "name": "n"}],
    })
    assert files.inputs == (Input(path="/in", url="s3://b/k", type="DIRECTORY"),)
    assert files.outputs == (Output(url="s3://b/o", path="/o/*.txt", name="n", path_prefix="/o/"),)
    assert task_files({}).inputs == task_files({}).outputs == ()


@pytest.mark.parametrize(("task", "message"), [
    ({"inputs": {"path": "/x"}}, "inputs is not a list"),
    ({"inputs": ["/x"]}, "inputs[0] is not a JSON object"),
    ({"inputs": [{"url": "s3://b/k"}]}, "inputs[0].path is missing"),
    ({"outputs": [{"path": "/o"}]}, "outputs[0].url is missing"),
    ({"outputs": [{"path": 3, "url": "s3://b/o"}]}, "outputs[0].path is not a string"),
])
def test_task_files_names_the_member_that_is_wrong(task: dict, message: str) -> None:
    """A task file the API did not write fails at once, naming the member."""
    with pytest.raises(FilerError, match=re.escape(message)):
        task_files(task)
