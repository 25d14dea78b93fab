"""Failures against the real servers: missing objects, bad credentials, dropped connections, bad URLs."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from poiesis.filer import FilerConfig, FilerError, fetch_inputs, upload_outputs
from tests.plugins.servers import FTP_PASSWORD, HTTP_PASSWORD, HTTP_USER, FlakyProxy, FtpServer, HttpServer, S3Server
from tests.tasks import inputs_of, outputs_of

BIG = 2_000_000


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _one_input(url: str) -> dict:
    return {"inputs": [{"url": url, "path": "/data/in.bin"}]}


def _one_output(url: str) -> dict:
    return {"outputs": [{"url": url, "path": "/out/o.bin", "type": "FILE"}]}


# ---------------------------------------------------------------- HTTP


def test_http_404_not_retried(http_server: HttpServer, root: Path, config: FilerConfig) -> None:
    """A 404 fails at once (one request) and saves nothing."""
    with pytest.raises(FilerError, match="HTTP 404"):
        fetch_inputs(inputs_of(_one_input(http_server.url("nothing/here.txt"))), root=root, config=config)
    assert http_server.hits("nothing/here.txt") == 1
    assert _files(root) == []


def test_http_5xx_retried_then_fails(http_server: HttpServer, root: Path, config: FilerConfig) -> None:
    """A 503 is retried as often as the policy allows, then fails and saves nothing."""
    before = http_server.hits("status/503")
    with pytest.raises(FilerError, match=r"HTTP 503.*gave up after 3 attempts"):
        fetch_inputs(inputs_of(_one_input(http_server.url("status/503"))), root=root, config=config)
    assert http_server.hits("status/503") - before == 3
    assert _files(root) == []


def test_http_basic_auth(http_server: HttpServer, root: Path, config: FilerConfig) -> None:
    """Credentials in the URL are sent as Basic auth; a wrong password is a 401 never echoed back."""
    (http_server.directory / "private").mkdir(exist_ok=True)
    (http_server.directory / "private/secret.txt").write_bytes(b"s")
    good = http_server.url("private/secret.txt", auth=f"{HTTP_USER}:{HTTP_PASSWORD}@")
    fetch_inputs(inputs_of(_one_input(good)), root=root, config=config)
    assert (root / "files/data/in.bin").read_bytes() == b"s"
    bad = http_server.url("private/secret.txt", auth=f"{HTTP_USER}:wrong-Pw-777@")
    with pytest.raises(FilerError, match="HTTP 401") as err:
        fetch_inputs(inputs_of(_one_input(bad)), root=root / "x", config=config)
    assert "wrong-Pw-777" not in str(err.value) and HTTP_USER not in str(err.value)


def test_http_get_dropped_once_then_succeeds(http_server: HttpServer, http_proxy: FlakyProxy, root: Path,
                                             config: FilerConfig) -> None:
    """A GET cut mid-body is retried and the file arrives whole."""
    data = os.urandom(BIG)
    (http_server.directory / "drop-get.bin").write_bytes(data)
    http_proxy.drops = 1
    fetch_inputs(inputs_of(_one_input(http_server.url("drop-get.bin", port=http_proxy.port))), root=root, config=config)
    assert http_proxy.cuts == 1
    assert (root / "files/data/in.bin").read_bytes() == data


def test_http_get_always_dropped_fails_clean(http_server: HttpServer, http_proxy: FlakyProxy, root: Path,
                                             config: FilerConfig) -> None:
    """A GET cut on every attempt fails after the retries and leaves no file, not even a partial one."""
    (http_server.directory / "drop-get2.bin").write_bytes(os.urandom(BIG))
    http_proxy.drops = 1000
    with pytest.raises(FilerError, match="gave up after 3 attempts"):
        fetch_inputs(inputs_of(_one_input(http_server.url("drop-get2.bin", port=http_proxy.port))), root=root, config=config)
    assert http_proxy.cuts == 3
    assert _files(root) == []


def test_http_put_dropped_once_then_succeeds(http_server: HttpServer, http_proxy: FlakyProxy, root: Path,
                                             config: FilerConfig) -> None:
    """A PUT cut mid-body is retried and the server ends up with the whole file."""
    data = os.urandom(BIG)
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.bin").write_bytes(data)
    http_proxy.drops = 1
    logs = upload_outputs(outputs_of(_one_output(http_server.url("put-drop/o.bin", port=http_proxy.port))), root=root,
                          config=config)
    assert http_proxy.cuts == 1 and logs[0]["size_bytes"] == str(BIG)
    assert (http_server.directory / "put-drop/o.bin").read_bytes() == data


def test_http_put_always_dropped_is_not_reported(http_server: HttpServer, http_proxy: FlakyProxy, root: Path,
                                                 config: FilerConfig) -> None:
    """A PUT that never completes raises instead of returning an output file log."""
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.bin").write_bytes(os.urandom(BIG))
    http_proxy.drops = 1000
    with pytest.raises(FilerError, match=r"output #0 /out/o\.bin"):
        upload_outputs(outputs_of(_one_output(http_server.url("put-drop2/o.bin", port=http_proxy.port))), root=root,
                       config=config)
    assert not (http_server.directory / "put-drop2/o.bin").exists()


# ---------------------------------------------------------------- FTP


def test_ftp_wrong_password(ftp_server: FtpServer, root: Path, config: FilerConfig) -> None:
    """A refused FTP login fails with the server's reply and without the password."""
    (ftp_server.directory / "f.txt").write_bytes(b"f")
    with pytest.raises(FilerError, match="530") as err:
        fetch_inputs(inputs_of(_one_input(ftp_server.url("f.txt", password="Bad-Pass-991"))), root=root, config=config)
    assert "Bad-Pass-991" not in str(err.value) and FTP_PASSWORD not in str(err.value)


def test_ftp_download_dropped_once_then_succeeds(ftp_server: FtpServer, ftp_faults: dict, root: Path,
                                                 config: FilerConfig) -> None:
    """An FTP download cut mid-transfer is retried and arrives whole."""
    data = os.urandom(BIG)
    (ftp_server.directory / "cut.bin").write_bytes(data)
    ftp_faults["drops"] = 1
    fetch_inputs(inputs_of(_one_input(ftp_server.url("cut.bin"))), root=root, config=config)
    assert ftp_faults["drops"] == 0
    assert (root / "files/data/in.bin").read_bytes() == data


def test_ftp_download_always_dropped_fails_clean(ftp_server: FtpServer, ftp_faults: dict, root: Path,
                                                 config: FilerConfig) -> None:
    """An FTP download cut every time fails without leaving a file."""
    (ftp_server.directory / "cut2.bin").write_bytes(os.urandom(BIG))
    ftp_faults["drops"] = 1000
    with pytest.raises(FilerError, match="gave up after 3 attempts"):
        fetch_inputs(inputs_of(_one_input(ftp_server.url("cut2.bin"))), root=root, config=config)
    assert _files(root) == []


def test_ftp_upload_dropped_once_then_succeeds(ftp_server: FtpServer, ftp_faults: dict, root: Path,
                                               config: FilerConfig) -> None:
    """An FTP upload cut mid-transfer is retried; the server ends with the whole file."""
    data = os.urandom(BIG)
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.bin").write_bytes(data)
    ftp_faults["drops"] = 1
    upload_outputs(outputs_of(_one_output(ftp_server.url("up-cut/o.bin"))), root=root, config=config)
    assert ftp_faults["drops"] == 0
    assert (ftp_server.directory / "up-cut/o.bin").read_bytes() == data


def test_ftp_upload_always_dropped_is_not_reported(ftp_server: FtpServer, ftp_faults: dict, root: Path,
                                                   config: FilerConfig) -> None:
    """An FTP upload that never completes raises, and nothing appears under the final name."""
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.bin").write_bytes(os.urandom(BIG))
    ftp_faults["drops"] = 1000
    with pytest.raises(FilerError, match=r"output #0 /out/o\.bin"):
        upload_outputs(outputs_of(_one_output(ftp_server.url("up-cut2/o.bin"))), root=root, config=config)
    assert not (ftp_server.directory / "up-cut2/o.bin").exists()


# ---------------------------------------------------------------- S3


def test_s3_wrong_secret(s3_server: S3Server, s3_bucket: str, root: Path, s3_config: FilerConfig,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong secret key fails with the S3 error code and never shows the secret."""
    s3_server.client().put_object(Bucket=s3_bucket, Key="k", Body=b"k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "Wrong-Secret-Key-123")  # boto3 reads its own environment
    config = replace(s3_config, secrets=("Wrong-Secret-Key-123",))  # what the settings tree would hold
    with pytest.raises(FilerError, match="SignatureDoesNotMatch") as err:
        fetch_inputs(inputs_of(_one_input(f"s3://{s3_bucket}/k")), root=root, config=config)
    assert "Wrong-Secret-Key-123" not in str(err.value) and s3_server.secret_key not in str(err.value)


def test_s3_unknown_access_key(s3_server: S3Server, s3_bucket: str, root: Path, s3_config: FilerConfig,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown access key id fails with InvalidAccessKeyId."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000")
    with pytest.raises(FilerError, match="InvalidAccessKeyId"):
        fetch_inputs(inputs_of(_one_input(f"s3://{s3_bucket}/k")), root=root, config=s3_config)


def test_s3_missing_bucket(s3_env: S3Server, root: Path, s3_config: FilerConfig) -> None:
    """A missing s3_bucket is a NoSuchBucket error for inputs and outputs alike."""
    with pytest.raises(FilerError, match="NoSuchBucket"):
        fetch_inputs(inputs_of(_one_input("s3://no-such-bucket-here/k")), root=root, config=s3_config)
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.bin").write_bytes(b"x")
    with pytest.raises(FilerError, match="NoSuchBucket"):
        upload_outputs(outputs_of(_one_output("s3://no-such-bucket-here/k")), root=root, config=s3_config)


def test_s3_get_dropped_once_then_succeeds(s3_server: S3Server, s3_proxy: FlakyProxy, s3_bucket: str, root: Path,
                                           s3_config: FilerConfig) -> None:
    """An S3 GET cut mid-body is retried and the file arrives whole."""
    data = os.urandom(BIG)
    s3_server.client().put_object(Bucket=s3_bucket, Key="big", Body=data)
    s3_proxy.drops = 1
    config = replace(s3_config, s3_endpoint_url=f"http://127.0.0.1:{s3_proxy.port}")
    fetch_inputs(inputs_of(_one_input(f"s3://{s3_bucket}/big")), root=root, config=config)
    assert s3_proxy.cuts == 1
    assert (root / "files/data/in.bin").read_bytes() == data


def test_s3_get_always_dropped_fails_clean(s3_server: S3Server, s3_proxy: FlakyProxy, s3_bucket: str, root: Path,
                                           s3_config: FilerConfig) -> None:
    """An S3 GET cut every time fails after the retries and leaves no file."""
    s3_server.client().put_object(Bucket=s3_bucket, Key="big", Body=os.urandom(BIG))
    s3_proxy.drops = 1000
    config = replace(s3_config, s3_endpoint_url=f"http://127.0.0.1:{s3_proxy.port}")
    with pytest.raises(FilerError, match="gave up after 3 attempts"):
        fetch_inputs(inputs_of(_one_input(f"s3://{s3_bucket}/big")), root=root, config=config)
    assert _files(root) == []


def test_s3_multipart_dropped_once_then_succeeds(s3_server: S3Server, s3_proxy: FlakyProxy, s3_bucket: str,
                                                 root: Path, s3_config: FilerConfig) -> None:
    """A multipart upload cut mid-part is retried and the object is whole."""
    data = os.urandom(11 * 1024 * 1024)
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.bin").write_bytes(data)
    s3_proxy.drops, s3_proxy.cut_after = 1, 3 * 1024 * 1024
    config = replace(s3_config, s3_endpoint_url=f"http://127.0.0.1:{s3_proxy.port}", s3_part_size=5 * 1024 * 1024)
    upload_outputs(outputs_of(_one_output(f"s3://{s3_bucket}/mp.bin")), root=root, config=config)
    assert s3_proxy.cuts == 1
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="mp.bin")["Body"].read() == data


def test_s3_multipart_always_dropped_leaves_nothing(s3_server: S3Server, s3_proxy: FlakyProxy, s3_bucket: str,
                                                    root: Path, s3_config: FilerConfig) -> None:
    """A multipart upload that never completes is aborted: no object, no pending upload, no log."""
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.bin").write_bytes(os.urandom(11 * 1024 * 1024))
    s3_proxy.drops, s3_proxy.cut_after = 1000, 3 * 1024 * 1024
    config = replace(s3_config, s3_endpoint_url=f"http://127.0.0.1:{s3_proxy.port}", s3_part_size=5 * 1024 * 1024)
    with pytest.raises(FilerError, match=r"output #0 /out/o\.bin"):
        upload_outputs(outputs_of(_one_output(f"s3://{s3_bucket}/mp2.bin")), root=root, config=config)
    client = s3_server.client()
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


# ---------------------------------------------------------------- bad URLs


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gopher://127.0.0.1/x", "unsupported URL scheme 'gopher'"),
        ("relative/path.txt", "unsupported URL scheme ''"),
        ("http:///no-host", "not a valid http"),
        ("s3:///no-bucket", "not a valid s3"),
        ("ftp:///no-host", "not a valid ftp"),
        ("file://otherhost/etc/hosts", "must not name a host"),
    ],
)
def test_bad_urls(url: str, message: str, root: Path, config: FilerConfig) -> None:
    """Malformed or unsupported URLs fail with a message naming the problem."""
    with pytest.raises(FilerError, match=message):
        fetch_inputs(inputs_of(_one_input(url)), root=root, config=config)


def test_connection_refused_is_retried_then_fails(root: Path, config: FilerConfig) -> None:
    """Nothing listening (127.0.0.1:1) is transient: retried, then reported."""
    with pytest.raises(FilerError, match="gave up after 3 attempts"):
        fetch_inputs(inputs_of(_one_input("http://127.0.0.1:1/x")), root=root, config=config)
    with pytest.raises(FilerError, match="gave up after 3 attempts"):
        fetch_inputs(inputs_of(_one_input("ftp://u:Secret-99@127.0.0.1:1/x")), root=root, config=config)
