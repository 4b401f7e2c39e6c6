"""S3 for tests: moto's real HTTP server on a free local port, reached the way a pod would.

Registered by tests/conftest.py (`pytest_plugins = ["tests.s3server"]`). Nothing
here patches boto3: the code under test opens real connections to
http://127.0.0.1:PORT, so endpoint handling, signing, retries and error parsing
are exercised as they are against S3 or MinIO.
"""

from __future__ import annotations

import json
import logging
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Iterator

import boto3
import pytest

REGION = "us-east-1"
TEST_KEY = "testing"  # moto accepts any credentials while auth is off (its default)


def admin_client(endpoint: str, service: str = "s3"):
    """A client with explicit test credentials, for fixtures and assertions (not for code under test)."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=TEST_KEY, aws_secret_access_key=TEST_KEY)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's ThreadedMotoServer on 127.0.0.1 and an OS-chosen port; yields "http://127.0.0.1:PORT"."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()  # the real port, port=0 only asked the OS for one
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the standard AWS env vars at the moto server (as a pod's secretRef would); yields the endpoint."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    yield s3_server


@pytest.fixture
def s3_bucket(s3_server: str) -> Iterator[str]:
    """A fresh, uniquely named bucket on the moto server."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    admin_client(s3_server).create_bucket(Bucket=name)
    yield name


@dataclass(frozen=True)
class AuthS3:
    """What `s3_auth_server` yields: an endpoint that checks signatures and a valid IAM key for it."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str


def _set_auth(endpoint: str, initial_no_auth_count: str) -> None:
    """moto's /moto-api/reset-auth: after this many requests, every request is authenticated."""
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=initial_no_auth_count.encode(),
                                 method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


@pytest.fixture
def s3_auth_server(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthS3]:
    """The moto server with credential checks ON, for the duration of one test.

    moto reads its switch (INITIAL_NO_AUTH_ACTION_COUNT) from `moto.settings`, a
    process-global; the threaded server runs in this process, so a second server
    would share the switch and the backends anyway. Instead this fixture creates a
    bucket and an IAM user with an s3:* policy and access key (while auth is still
    off), turns auth on through moto's own /moto-api/reset-auth endpoint, points the
    AWS_* env vars at that valid key, and turns auth back off afterwards. A test
    then sets a wrong AWS_SECRET_ACCESS_KEY / AWS_ACCESS_KEY_ID to see a rejection.
    """
    tag = uuid.uuid4().hex[:12]
    bucket, user = f"auth-{tag}", f"safesynth-{tag}"
    admin_client(s3_env).create_bucket(Bucket=bucket)
    iam = admin_client(s3_env, "iam")
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="s3-all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    _set_auth(s3_env, "0")
    try:
        yield AuthS3(s3_env, bucket, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        _set_auth(s3_env, "inf")
