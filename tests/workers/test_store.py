"""The artifact store: the same behaviour on a folder and on S3 (moto's real HTTP server)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
from botocore.config import Config

from safesynth.contract import PERMANENT_EXIT_CODES
from safesynth.errors import ArtifactNotFoundError, BadInputError, StorageError
from safesynth.store import (
    ArtifactStore,
    LocalStore,
    S3Store,
    open_store,
    read_uri_bytes,
    s3_retry_config,
    split_uri,
    uri_identity,
)
from tests.s3server import AuthS3, admin_client


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """One store per backend, rooted below the top so prefixes are exercised."""
    if request.param == "local":
        return open_store(str(tmp_path / "runs" / "demo"))
    request.getfixturevalue("s3_env")
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"s3://{bucket}/runs/demo")


@pytest.fixture
def dead_endpoint() -> str:
    """A local URL where nothing listens: bind a port, then free it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def hangup_endpoint() -> Iterator[tuple[str, list[int]]]:
    """A local URL that accepts each connection and closes it at once; the list counts connections."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    seen: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            seen.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    stop.set()
    thread.join()
    server.close()


def sample_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": pd.Series([1, 2, 3], dtype="int64"),
            "n": pd.Series([1, None, 3], dtype="Int64"),
            "x": [0.5, None, 2.25],
            "s": ["a", "b", None],
            "c": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True),
            "t": pd.to_datetime(["2024-01-01", "2024-02-01", None]).tz_localize("UTC"),
            "b": [True, False, True],
        },
        index=[10, 11, 12],
    )


# --- the same behaviour on both backends -------------------------------------------------


def test_bytes_round_trip_and_exists(store: ArtifactStore) -> None:
    assert not store.exists("a/b.bin")
    store.write_bytes("a/b.bin", b"\x00\x01payload")
    assert store.exists("a/b.bin")
    assert store.read_bytes("a/b.bin") == b"\x00\x01payload"
    store.write_bytes("a/b.bin", b"v2")  # overwrite replaces
    assert store.read_bytes("a/b.bin") == b"v2"
    assert not store.exists("a")  # a "folder" is not an artifact


def test_json_is_stable_and_allows_datetimes(store: ArtifactStore) -> None:
    when = dt.datetime(2024, 5, 1, 12, 30)
    store.write_json("s.json", {"b": 1, "a": {"when": when}, "name": "zoë"})
    assert store.read_json("s.json") == {"a": {"when": str(when)}, "b": 1, "name": "zoë"}
    raw = store.read_bytes("s.json").decode("utf-8")
    assert raw.index('"a"') < raw.index('"b"') and '\n  "b": 1' in raw


def test_text_round_trip(store: ArtifactStore) -> None:
    store.write_text("r/report.html", "<p>naïve ✓</p>")
    assert store.read_text("r/report.html") == "<p>naïve ✓</p>"


def test_table_round_trip_keeps_dtypes_and_drops_index(store: ArtifactStore) -> None:
    df = sample_table()
    store.write_table("t/train.parquet", df)
    back = store.read_table("t/train.parquet")
    assert list(back.index) == [0, 1, 2]
    pd.testing.assert_frame_equal(back, df.reset_index(drop=True))
    assert str(back["c"].dtype) == "category" and back["c"].cat.ordered
    assert str(back["n"].dtype) == "Int64" and str(back["t"].dtype) == "datetime64[ns, UTC]"


def test_list_is_sorted_recursive_and_prefix_exact(store: ArtifactStore) -> None:
    for key in ["train/model/w.bin", "train/summary.json", "trainer.txt", "prepare/x.parquet"]:
        store.write_bytes(key, b"1")
    assert store.list() == ["prepare/x.parquet", "train/model/w.bin", "train/summary.json", "trainer.txt"]
    assert store.list("train/") == ["train/model/w.bin", "train/summary.json"]
    assert store.list("train") == ["train/model/w.bin", "train/summary.json", "trainer.txt"]
    assert store.list("nothing/") == []


def test_child_is_rooted_at_prefix(store: ArtifactStore) -> None:
    child = store.child("generate/")
    child.write_json("summary.json", {"rows": 3})
    assert child.uri == store.url("generate")
    assert child.url("summary.json") == store.url("generate/summary.json")
    assert store.read_json("generate/summary.json") == {"rows": 3}
    assert child.list() == ["summary.json"]


def test_delete_and_delete_prefix(store: ArtifactStore) -> None:
    for key in ["train/a", "train/deep/b", "trainer", "pii/c"]:
        store.write_bytes(key, b"1")
    store.delete("pii/c")
    store.delete("pii/c")  # repeating a delete is fine
    assert not store.exists("pii/c")
    store.delete_prefix("train/")
    assert store.list() == ["trainer"]
    store.delete_prefix("train/")  # and on an empty prefix


def test_upload_and_download_dir(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text("{}")
    (src / "sub" / "weights.bin").write_bytes(os.urandom(2048))
    store.upload_dir(src, "train/model")
    assert store.list("train/") == ["train/model/config.json", "train/model/sub/weights.bin"]
    dest = tmp_path / "restored"
    store.download_dir("train/model/", dest)
    assert (dest / "config.json").read_text() == "{}"
    assert (dest / "sub" / "weights.bin").read_bytes() == (src / "sub" / "weights.bin").read_bytes()
    with pytest.raises(ArtifactNotFoundError, match="nothing under"):
        store.download_dir("train/mod", tmp_path / "none")  # a prefix of a folder name is not the folder
    with pytest.raises(BadInputError, match="not a folder"):
        store.upload_dir(tmp_path / "missing", "x")


def test_missing_key_names_the_uri(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError) as err:
        store.read_bytes("prepare/train.parquet")
    msg = str(err.value)
    assert store.url("prepare/train.parquet") in msg and "does not exist" in msg and "artifacts.uri" in msg
    assert err.value.exit_code == 2


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "", "a//b", "./a", "a\\..\\b"])
def test_keys_cannot_escape_the_root(store: ArtifactStore, key: str) -> None:
    with pytest.raises(BadInputError):
        store.write_bytes(key, b"1")
    with pytest.raises(BadInputError):
        store.read_bytes(key)


def test_bad_json_and_parquet_never_echo_contents(store: ArtifactStore) -> None:
    store.write_bytes("bad.json", b'{"ssn": "123-45-6789",')
    with pytest.raises(BadInputError) as err:
        store.read_json("bad.json")
    assert store.url("bad.json") in str(err.value) and "123-45-6789" not in str(err.value)
    with pytest.raises(BadInputError) as err:
        store.read_table("bad.json")
    assert "Parquet" in str(err.value) and "123-45-6789" not in str(err.value)


def test_unserializable_table_writes_nothing(store: ArtifactStore) -> None:
    store.write_table("t.parquet", pd.DataFrame({"a": [1]}))
    bad = pd.DataFrame({"a": [1, "secret-value", object()]})
    with pytest.raises(BadInputError) as err:
        store.write_table("t.parquet", bad)
    assert "secret-value" not in str(err.value) and store.url("t.parquet") in str(err.value)
    assert store.read_table("t.parquet")["a"].tolist() == [1]
    assert store.list() == ["t.parquet"]


# --- local specifics ------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_local_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("d/status.json", b"old")

    def boom(*args: object) -> None:
        raise OSError(5, "simulated I/O error")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(StorageError, match="simulated I/O error"):
        store.write_bytes("d/status.json", b"new, never complete")
    monkeypatch.undo()
    assert store.read_bytes("d/status.json") == b"old"
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["status.json"]  # no temp file left


def test_local_temp_files_are_not_listed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("a.json", b"1")
    (tmp_path / ".a.json.0123456789ab.safesynth-tmp").write_bytes(b"half")  # left by a killed writer
    assert store.list() == ["a.json"]


def test_local_new_files_follow_umask(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("f", b"1")
    old = os.umask(0)
    os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o666 & ~old


def test_local_directory_and_permission_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("dir/f", b"1")
    with pytest.raises(ArtifactNotFoundError, match=str(tmp_path / "dir")):
        store.read_bytes("dir")
    with pytest.raises(ArtifactNotFoundError):
        store.read_bytes("dir/f/g")  # a file used as a folder

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # root ignores chmod, so simulate the OS's answer
    with pytest.raises(BadInputError, match="permission denied") as err:
        store.read_bytes("dir/f")
    assert not isinstance(err.value, ArtifactNotFoundError)


def test_local_delete_prefix_removes_the_emptied_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("train/deep/a", b"1")
    store.delete_prefix("train/")
    assert not (tmp_path / "train").exists()


# --- URIs -----------------------------------------------------------------------------------


def test_open_store_picks_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = open_store("s3://bucket/a/b/", endpoint_url="http://e:9000", region="eu-west-1", path_style=False)
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix, s3.uri) == ("bucket", "a/b", "s3://bucket/a/b")
    assert (s3.endpoint_url, s3.region, s3.path_style) == ("http://e:9000", "eu-west-1", False)
    assert open_store("s3://bucket").uri == "s3://bucket"
    assert open_store("s3://bucket").url("k") == "s3://bucket/k"
    local = open_store(f"file://{tmp_path}/run")
    assert isinstance(local, LocalStore) and local.root == tmp_path / "run" and local.uri == f"{tmp_path}/run"
    monkeypatch.chdir(tmp_path)
    assert open_store("rel/run").root == tmp_path / "rel" / "run"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert open_store("~/runs").root == tmp_path / "home" / "runs"


@pytest.mark.parametrize("uri", ["gs://bucket/x", "http://host/x", "S3A://b/x", ""])
def test_unsupported_scheme(uri: str) -> None:
    with pytest.raises(BadInputError) as err:
        open_store(uri)
    assert repr(uri) in str(err.value) and "s3://" in str(err.value) and "file://" in str(err.value)


def test_s3_uri_without_bucket() -> None:
    with pytest.raises(BadInputError, match="no bucket"):
        open_store("s3:///prefix")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://b/data/x.csv", ("s3://b/data", "x.csv")),
        ("s3://b/x.csv", ("s3://b", "x.csv")),
        ("file:///tmp/x.csv", ("file:///tmp", "x.csv")),
        ("file:///x.csv", ("file:///", "x.csv")),
        ("/tmp/x.csv", ("/tmp", "x.csv")),
        ("x.csv", (".", "x.csv")),
    ],
)
def test_split_uri(uri: str, expected: tuple[str, str]) -> None:
    assert split_uri(uri) == expected


@pytest.mark.parametrize("uri", ["s3://b/dir/", "s3://b", "s3://x.csv", "/tmp/dir/", "gs://b/x.csv"])
def test_split_uri_needs_a_file(uri: str) -> None:
    with pytest.raises(BadInputError):
        split_uri(uri)


def test_read_uri_bytes_local_and_s3(tmp_path: Path, s3_env: str, s3_bucket: str) -> None:
    (tmp_path / "in.csv").write_bytes(b"a,b\n1,2\n")
    assert read_uri_bytes(str(tmp_path / "in.csv")) == b"a,b\n1,2\n"
    assert read_uri_bytes(f"file://{tmp_path}/in.csv") == b"a,b\n1,2\n"
    admin_client(s3_env).put_object(Bucket=s3_bucket, Key="in/data.csv", Body=b"x\n1\n")
    assert read_uri_bytes(f"s3://{s3_bucket}/in/data.csv", endpoint_url=s3_env) == b"x\n1\n"
    with pytest.raises(ArtifactNotFoundError, match=f"s3://{s3_bucket}/in/nope.csv"):
        read_uri_bytes(f"s3://{s3_bucket}/in/nope.csv")


# --- S3 specifics ---------------------------------------------------------------------------


def test_s3_keys_land_under_the_prefix(s3_env: str, s3_bucket: str) -> None:
    store = open_store(f"s3://{s3_bucket}/runs/demo")
    store.write_json("prepare/summary.json", {"ok": True})
    keys = [o["Key"] for o in admin_client(s3_env).list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == ["runs/demo/prepare/summary.json"]


def test_s3_endpoint_comes_from_environment(s3_env: str, s3_bucket: str, dead_endpoint: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(f"s3://{s3_bucket}/p").write_bytes("k", b"via env")  # endpoint_url=None: AWS_ENDPOINT_URL applies
    assert admin_client(s3_env).get_object(Bucket=s3_bucket, Key="p/k")["Body"].read() == b"via env"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead_endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(StorageError, match=dead_endpoint.split("//")[1]):
        open_store(f"s3://{s3_bucket}/p").read_bytes("k")
    # An explicit endpoint wins over the environment.
    assert open_store(f"s3://{s3_bucket}/p", endpoint_url=s3_env).read_bytes("k") == b"via env"


@pytest.mark.parametrize("op", ["read", "write", "exists", "list", "delete_prefix"])
def test_s3_missing_bucket_names_it(s3_env: str, op: str) -> None:
    store = open_store("s3://no-such-bucket-here/runs")
    calls = {
        "read": lambda: store.read_bytes("a"),
        "write": lambda: store.write_bytes("a", b"1"),
        "exists": lambda: store.exists("a"),
        "list": store.list,
        "delete_prefix": lambda: store.delete_prefix("a/"),
    }
    with pytest.raises(BadInputError) as err:
        calls[op]()
    assert not isinstance(err.value, ArtifactNotFoundError)
    assert "'no-such-bucket-here'" in str(err.value) and "create it or fix spec.artifacts.uri" in str(err.value)


@pytest.mark.parametrize("where", ["bucket", "key"])
def test_data_uri_hints_name_data_uri_not_artifacts_uri(s3_env: str, s3_bucket: str, tmp_path: Path,
                                                        where: str) -> None:
    """A missing input table is a typo in spec.data.uri; the hint must not send the user to artifacts.uri."""
    uri = f"s3://{s3_bucket}/in/none.csv" if where == "key" else "s3://no-such-bucket-here/in/t.csv"
    for read in (lambda: read_uri_bytes(uri), lambda: read_uri_bytes(str(tmp_path / "none.csv"))):
        with pytest.raises(BadInputError) as err:
            read()
        assert "spec.data.uri" in str(err.value) and "artifacts" not in str(err.value)


def test_s3_unreachable_endpoint_is_retryable(s3_env: str, dead_endpoint: str) -> None:
    store = S3Store("bucket", "p", endpoint_url=dead_endpoint, config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(StorageError) as err:
        store.write_bytes("k", b"1")
    assert dead_endpoint in str(err.value) and "s3://bucket/p/k" in str(err.value)
    assert err.value.exit_code == 1


@pytest.mark.parametrize(("env", "expected"), [
    ({"SAFESYNTH_S3_MAX_ATTEMPTS": "1"}, 1),
    ({"SAFESYNTH_S3_MAX_ATTEMPTS": "3"}, 3),
    ({"AWS_MAX_ATTEMPTS": "2"}, 2),  # botocore's own variable is honoured too
])
def test_s3_try_budget_comes_from_the_environment(
    s3_env: str, hangup_endpoint: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str], expected: int,
) -> None:
    endpoint, seen = hangup_endpoint
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StorageError, match=endpoint) as err:
        open_store("s3://bucket/p", endpoint_url=endpoint).read_bytes("k")
    assert len(seen) == expected
    assert "s3://bucket/p/k" in str(err.value) and "retryable" in str(err.value)
    assert err.value.exit_code not in PERMANENT_EXIT_CODES


def test_s3_default_budget_rides_out_a_minute() -> None:
    """The default waits, summed over botocore's full-jitter backoff, cover a 60 s outage with room to spare."""
    cfg = s3_retry_config({})
    attempts = cfg["retries"]["total_max_attempts"]
    mean_wait = sum(min(2 ** i, 20) / 2 for i in range(attempts - 1))  # E[uniform(0, cap)] per retry
    assert cfg["retries"]["mode"] == "standard" and mean_wait >= 2 * 60
    assert cfg["connect_timeout"] < cfg["read_timeout"] <= 60
    assert s3_retry_config({"SAFESYNTH_S3_RETRY_MODE": "adaptive"})["retries"]["mode"] == "adaptive"
    for bad in ({"SAFESYNTH_S3_MAX_ATTEMPTS": "0"}, {"SAFESYNTH_S3_MAX_ATTEMPTS": "many"},
                {"SAFESYNTH_S3_RETRY_MODE": "legacy"}):
        with pytest.raises(BadInputError, match="SAFESYNTH_S3"):
            s3_retry_config(bad)


def test_s3_missing_credentials(s3_env: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(BadInputError, match="no S3 credentials"):
        open_store(f"s3://{s3_bucket}/p").read_bytes("k")


def test_s3_auth_fixture_accepts_the_right_key(s3_auth_server: AuthS3) -> None:
    store = open_store(f"s3://{s3_auth_server.bucket}/p")
    store.write_bytes("k", b"1")
    assert store.read_bytes("k") == b"1" and store.list() == ["k"]


@pytest.mark.parametrize("wrong", ["secret", "key_id"])
@pytest.mark.parametrize("op", ["read", "write", "exists"])
def test_s3_wrong_credentials_are_bad_input(s3_auth_server: AuthS3, monkeypatch: pytest.MonkeyPatch,
                                            wrong: str, op: str) -> None:
    secret = "wrong-secret-do-not-print-0123456789"
    if wrong == "secret":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGKEYID000000")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    store = open_store(f"s3://{s3_auth_server.bucket}/p")
    with pytest.raises(BadInputError) as err:
        {"read": lambda: store.read_bytes("k"), "write": lambda: store.write_bytes("k", b"1"),
         "exists": lambda: store.exists("k")}[op]()
    msg = str(err.value)
    assert "credentials" in msg and "AWS_SECRET_ACCESS_KEY" in msg and "s3://" in msg
    assert secret not in msg and s3_auth_server.secret_access_key not in msg
    assert not isinstance(err.value, ArtifactNotFoundError)


@pytest.mark.slow  # botocore's real backoff (full jitter) waits out the cut: a few seconds
def test_s3_rides_out_an_outage_and_leaves_earlier_artifacts_intact(
    s3_env: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.faultproxy import cuttable

    monkeypatch.setenv("SAFESYNTH_S3_MAX_ATTEMPTS", "10")  # a short budget: waits up to 1+2+4+8+16+20·4 s
    with cuttable(s3_env) as proxy:
        store = open_store(f"s3://{s3_bucket}/run", endpoint_url=proxy.url)
        store.write_bytes("prepare/train.parquet", b"earlier")
        proxy.cut()
        proxy.restore_after(1.5)
        store.write_bytes("train/model.bin", b"written during the outage")  # retried until the proxy is back
        assert proxy.refused >= 1  # the outage was real: connections were dropped
        assert store.read_bytes("train/model.bin") == b"written during the outage"
        assert admin_client(s3_env).get_object(Bucket=s3_bucket, Key="run/prepare/train.parquet")["Body"].read() \
            == b"earlier"


def test_s3_outage_beyond_the_budget_fails_retryable_naming_the_artifact(
    s3_env: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.faultproxy import cuttable

    monkeypatch.setenv("SAFESYNTH_S3_MAX_ATTEMPTS", "2")
    with cuttable(s3_env) as proxy:
        store = open_store(f"s3://{s3_bucket}/run", endpoint_url=proxy.url)
        proxy.cut()
        with pytest.raises(StorageError) as err:
            store.write_bytes("generate/synthetic.parquet", b"x")
    assert f"s3://{s3_bucket}/run/generate/synthetic.parquet" in str(err.value)
    assert "retryable" in str(err.value) and "2 tries" in str(err.value)
    assert err.value.exit_code not in PERMANENT_EXIT_CODES and err.value.exit_code != 0
    assert proxy.refused == 2


def test_identity_changes_with_the_object(store: ArtifactStore) -> None:
    store.write_bytes("in/t.csv", b"a\n1\n")
    first = store.identity("in/t.csv")
    assert store.identity("in/t.csv") == first
    store.write_bytes("in/t.csv", b"a\n2\n")  # same size, new content
    assert store.identity("in/t.csv") != first
    with pytest.raises(ArtifactNotFoundError):
        store.identity("in/none.csv")
    assert uri_identity(store.url("in/t.csv")) == store.identity("in/t.csv")
