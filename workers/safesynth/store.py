"""Where a run's artifacts live: one small interface over a local folder and S3.

Stages only say `store.write_table("prepare/train.parquet", df)`; whether the run
URI is `s3://bucket/prefix`, `file:///abs/path` or a plain path is decided once, by
`open_store`. So stages are tested on tmp folders and the same code runs in a pod
against S3 or an S3-compatible endpoint (MinIO, Ceph).

Two guarantees matter to the pipeline: a reader never sees half an artifact
(local writes go to a temp file that is renamed into place; PutObject is atomic),
and every failure becomes a typed error from `safesynth.errors` that names the URI
and says what to do, so the exit code decides retries. Messages never repeat file
contents or credentials.

Over 400 lines on purpose: the interface and both backends keep one error and
atomicity contract, which is checked by reading them together.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator, Mapping
from urllib.parse import unquote, urlparse

from safesynth.contract import (
    S3_ATTEMPTS_ENV,
    S3_CONNECT_TIMEOUT_S,
    S3_MAX_ATTEMPTS,
    S3_READ_TIMEOUT_S,
    S3_RETRY_MODE_ENV,
)
from safesynth.errors import ArtifactNotFoundError, BadInputError, StorageError

if TYPE_CHECKING:
    import pandas as pd
    from botocore.config import Config

SUPPORTED = "s3://bucket/prefix, file:///absolute/path or a plain path"
_TMP_SUFFIX = ".safesynth-tmp"  # a killed writer's leftovers are recognisable and never listed
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden",
                     "InvalidToken", "ExpiredToken", "TokenRefreshRequired"}
ARTIFACTS_FIELD = "spec.artifacts.uri"  # the spec field a run store's URI comes from, named in hints
_RETRYABLE = "retryable: the stage exits 1 and is retried, or run it again"


def _missing(field: str) -> str:
    """What to do about a missing key: a run's artifact is written by an earlier stage; any other URI is a typo."""
    if field == ARTIFACTS_FIELD:
        return f"run the stage that writes it or check {field}"
    return f"check {field}"


def s3_retry_config(env: Mapping[str, str]) -> dict[str, Any]:
    """botocore Config arguments: retries with backoff and timeouts set on purpose (pure: env passed in).

    Standard mode retries throttling, 5xx, and connection errors and timeouts with
    full-jitter exponential backoff capped at 20 s per wait. S3_MAX_ATTEMPTS tries
    wait about 155 s in all on average (under 60 s with probability ~1e-5), so an
    S3 outage of a minute is ridden out by default. SAFESYNTH_S3_MAX_ATTEMPTS
    (total tries; botocore's AWS_MAX_ATTEMPTS is honoured too) and SAFESYNTH_S3_RETRY_MODE (standard or
    adaptive) change it.
    """
    raw = env.get(S3_ATTEMPTS_ENV) or env.get("AWS_MAX_ATTEMPTS", "")
    try:
        attempts = int(raw) if raw else S3_MAX_ATTEMPTS
    except ValueError:
        raise BadInputError(f"{S3_ATTEMPTS_ENV} must be a whole number of tries (at least 1)") from None
    if attempts < 1:
        raise BadInputError(f"{S3_ATTEMPTS_ENV} must be a whole number of tries (at least 1)")
    mode = env.get(S3_RETRY_MODE_ENV, "standard")
    if mode not in ("standard", "adaptive"):
        raise BadInputError(f"{S3_RETRY_MODE_ENV} must be 'standard' or 'adaptive'")
    return {"retries": {"mode": mode, "total_max_attempts": attempts},
            "connect_timeout": S3_CONNECT_TIMEOUT_S, "read_timeout": S3_READ_TIMEOUT_S}


def _clean(key: str, *, prefix: bool = False) -> str:
    """Validate a "/"-separated key: keys that could leave the root are input errors, on every backend."""
    body = key.rstrip("/") if prefix else key
    if not isinstance(key, str) or (not key and not prefix) or key.startswith("/") or "\\" in key or (
            body and any(p in ("", ".", "..") for p in body.split("/"))):
        raise BadInputError(f"artifact key {key!r} must be a relative path inside the store "
                            "(no '..', '.', '//', '\\' or leading '/')")
    return key


class ArtifactStore(abc.ABC):
    """Keys (relative, "/"-separated) to bytes, rooted at `uri`; typed helpers on top."""

    uri: str
    field: str = ARTIFACTS_FIELD  # the spec field (or option) the root URI came from, named in hints

    def url(self, key: str) -> str:
        """The full URI of `key`, for status fields and error messages."""
        return f"{self.uri.rstrip('/')}/{_clean(key, prefix=True)}" if key else self.uri

    @abc.abstractmethod
    def child(self, prefix: str) -> ArtifactStore:
        """A store rooted at `prefix` (e.g. one stage's folder)."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Write all of `data` or nothing: readers see the old object or the new one."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix` (a string prefix, as in S3), relative to the root, sorted, recursive."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error, so deletes are safe to repeat."""

    @abc.abstractmethod
    def identity(self, key: str) -> dict[str, Any]:
        """What tells this object's version apart without downloading it, for resume decisions:
        a content hash for a local file, ETag, size and LastModified from HEAD on S3."""

    @abc.abstractmethod
    def _put_file(self, src: Path, key: str) -> None: ...

    @abc.abstractmethod
    def _get_file(self, key: str, dest: Path) -> None: ...

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under `prefix`, so a re-run never mixes old and new artifacts."""
        for key in self.list(prefix):
            self.delete(key)

    def upload_dir(self, local_dir: str | Path, prefix: str) -> None:
        """Copy every file under `local_dir` to `prefix/<relative path>` (model folders, adapters)."""
        src = Path(local_dir)
        if not src.is_dir():
            raise BadInputError(f"cannot upload {src}: not a folder")
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            self._put_file(f, f"{prefix.rstrip('/')}/{f.relative_to(src).as_posix()}".lstrip("/"))

    def download_dir(self, prefix: str, local_dir: str | Path) -> None:
        """Copy every key under the folder `prefix` to `local_dir/<rest of key>`; nothing there is an error."""
        base = prefix.rstrip("/") + "/" if prefix.rstrip("/") else ""
        keys = self.list(base)
        if not keys:
            raise ArtifactNotFoundError(f"nothing under {self.url(base)}; {_missing(self.field)}")
        for key in keys:
            dest = Path(local_dir, *key[len(base):].split("/"))
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._get_file(key, dest)

    def read_text(self, key: str) -> str:
        try:
            return self.read_bytes(key).decode("utf-8")
        except UnicodeDecodeError:
            raise BadInputError(f"{self.url(key)} is not UTF-8 text") from None

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))

    def read_json(self, key: str) -> Any:
        try:
            return json.loads(self.read_text(key))
        except json.JSONDecodeError as exc:  # the position only, never the text
            raise BadInputError(f"{self.url(key)} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None

    def write_json(self, key: str, obj: Any) -> None:
        """Sorted keys and indent 2, so artifacts diff cleanly; datetimes and the like become strings."""
        self.write_text(key, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")

    def read_table(self, key: str) -> pd.DataFrame:
        """A DataFrame from Parquet; dtypes come back as written (pandas keeps them in the file's metadata)."""
        import pandas as pd

        data = self.read_bytes(key)
        try:
            return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        except Exception as exc:  # pyarrow messages can quote values: name the error type only
            raise BadInputError(f"{self.url(key)} is not a readable Parquet table ({type(exc).__name__})") from None

    def write_table(self, key: str, df: pd.DataFrame) -> None:
        """`df` as Parquet without its index, serialized in memory first so a failure writes nothing."""
        buf = io.BytesIO()
        try:
            df.to_parquet(buf, index=False, engine="pyarrow")
        except Exception as exc:
            raise BadInputError(f"cannot write the table to {self.url(key)} as Parquet ({type(exc).__name__}); "
                                "check that each column holds values of one type") from None
        self.write_bytes(key, buf.getvalue())


class LocalStore(ArtifactStore):
    """A folder; every write goes to a temp file in the target's folder, is fsynced, then renamed."""

    def __init__(self, root: str | Path, *, field: str = ARTIFACTS_FIELD) -> None:
        self.root = Path(root)
        self.uri = str(self.root)
        self.field = field

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_clean(key).split("/"))

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        url = self.url(key)
        try:
            yield
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ArtifactNotFoundError(f"{url} does not exist (or is a folder); {_missing(self.field)}") from exc
        except PermissionError as exc:
            raise BadInputError(f"permission denied for {url}; check the folder's owner and mode") from exc
        except OSError as exc:
            raise StorageError(f"cannot access {url}: {exc.strerror or type(exc).__name__}") from exc

    @staticmethod
    def _atomic(dest: Path, fill: Callable[[BinaryIO], Any]) -> None:
        """Fill a temp file next to `dest`, fsync, rename over `dest`; on any failure remove the temp file."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}{_TMP_SUFFIX}"
        try:  # os.open with 0o666 so the umask applies, as for any new file
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as fh:
                fill(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _copy(self, src: Path, dest: Path, key: str) -> None:
        with self._errors(key), open(src, "rb") as fh:
            self._atomic(dest, lambda out: shutil.copyfileobj(fh, out))

    def child(self, prefix: str) -> LocalStore:
        return LocalStore(self._path(prefix.rstrip("/")), field=self.field)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        with self._errors(key):
            return path.read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with self._errors(key):
            self._atomic(path, lambda fh: fh.write(data))

    def list(self, prefix: str = "") -> list[str]:
        base = self.root.joinpath(*_clean(prefix, prefix=True).split("/")[:-1])  # deepest folder named
        if not base.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.endswith(_TMP_SUFFIX))

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._errors(key):
            path.unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        super().delete_prefix(prefix)
        folder = self._path(prefix.rstrip("/")) if prefix.rstrip("/") else self.root
        if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
            shutil.rmtree(folder)  # the emptied folder tree, so `ls` shows what a run holds

    def identity(self, key: str) -> dict[str, Any]:
        """sha256 and size of the file's bytes: a new export at the same path is seen even with the same mtime."""
        path, digest = self._path(key), hashlib.sha256()
        with self._errors(key), open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
            size = fh.tell()
        return {"sha256": digest.hexdigest(), "size": size}

    def _put_file(self, src: Path, key: str) -> None:
        self._copy(src, self._path(key), key)

    def _get_file(self, key: str, dest: Path) -> None:
        self._copy(self._path(key), dest, key)


class S3Store(ArtifactStore):
    """`s3://bucket/prefix` through boto3. Credentials come only from the environment / boto3's chain."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None,
                 path_style: bool = True, config: Config | None = None, field: str = ARTIFACTS_FIELD) -> None:
        if not bucket:
            raise BadInputError("the S3 URI has no bucket; expected s3://bucket/prefix")
        self.bucket, self.prefix = bucket, _clean(prefix.strip("/"), prefix=True)
        self.endpoint_url, self.region, self.path_style, self.config = endpoint_url, region, path_style, config
        self.field = field
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._s3: Any = None

    def _client(self) -> Any:
        """Made on first use, in a fresh session, so the environment at that time applies."""
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            cfg = Config(s3={"addressing_style": "path" if self.path_style else "auto"},
                         **s3_retry_config(os.environ))
            cfg = cfg.merge(self.config) if self.config is not None else cfg
            # endpoint_url=None leaves AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 to botocore.
            self._s3 = boto3.session.Session().client("s3", endpoint_url=self.endpoint_url,
                                                      region_name=self.region, config=cfg)
        return self._s3

    def _key(self, key: str, *, prefix: bool = False) -> str:
        key = _clean(key, prefix=prefix)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """botocore failures as typed errors naming the URI; key "" means a bucket-level call."""
        from boto3.exceptions import RetriesExceededError, S3UploadFailedError
        from botocore import exceptions as bx

        url = self.url(key)
        try:
            yield
        except (bx.BotoCoreError, bx.ClientError, S3UploadFailedError, RetriesExceededError) as raw:
            exc: BaseException = raw  # unwrap boto3's transfer wrappers to the request's own error
            if isinstance(exc, S3UploadFailedError) and exc.__context__ is not None:
                exc = exc.__context__
            if isinstance(exc, RetriesExceededError) and exc.last_exception is not None:
                exc = exc.last_exception
            endpoint = self._s3.meta.endpoint_url if self._s3 is not None else "the S3 endpoint"
            if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
                raise BadInputError(f"no S3 credentials found for {url}; set AWS_ACCESS_KEY_ID and "
                                    "AWS_SECRET_ACCESS_KEY (artifacts.secretRef in a cluster)") from raw
            if isinstance(exc, (bx.ConnectionError, bx.HTTPClientError)):
                raise StorageError(f"cannot reach S3 endpoint {endpoint} for {url} ({type(exc).__name__}) after "
                                   f"{self._attempts()} tries; check spec.artifacts.endpoint / AWS_ENDPOINT_URL and "
                                   f"the network ({_RETRYABLE})") from raw
            if not isinstance(exc, bx.ClientError):
                raise StorageError(f"S3 request for {url} failed ({type(exc).__name__}); {_RETRYABLE}") from raw
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code == "NoSuchBucket" or (key == "" and code in ("404", "NotFound")):
                raise BadInputError(f"S3 bucket {self.bucket!r} does not exist at {endpoint}; "
                                    f"create it or fix {self.field}") from raw
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ArtifactNotFoundError(f"{url} does not exist; {_missing(self.field)}") from raw
            if code in _CREDENTIAL_CODES or status == 403:  # never the key itself: only where to look
                raise BadInputError(f"S3 rejected the credentials for {url} ({code or status}); check "
                                    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (artifacts.secretRef "
                                    f"in a cluster) and their access to bucket {self.bucket!r}") from raw
            if 400 <= status < 500 and status not in (408, 429):
                raise BadInputError(f"S3 refused the request for {url} ({code or status})") from raw
            raise StorageError(f"S3 request for {url} failed ({code or status}) after {self._attempts()} tries; "
                               f"{_RETRYABLE}") from raw

    def _attempts(self) -> Any:
        """The client's try budget, for messages ("?" before the client exists)."""
        if self._s3 is None:
            return "?"
        return (self._s3.meta.config.retries or {}).get("total_max_attempts", "?")

    def child(self, prefix: str) -> S3Store:
        return S3Store(self.bucket, self._key(prefix.rstrip("/")), endpoint_url=self.endpoint_url,
                       region=self.region, path_style=self.path_style, config=self.config, field=self.field)

    def exists(self, key: str) -> bool:
        try:
            with self._errors(key):
                self._client().head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ArtifactNotFoundError:
            pass
        with self._errors(""):  # HeadObject answers 404 for a missing bucket too: tell the two apart
            self._client().head_bucket(Bucket=self.bucket)
        return False

    def read_bytes(self, key: str) -> bytes:
        with self._errors(key):
            body: bytes = self._client().get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        return body

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._errors(key):
            self._client().put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def list(self, prefix: str = "") -> list[str]:
        full, cut = self._key(prefix, prefix=True), len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        with self._errors(""):
            for page in self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                keys += [o["Key"][cut:] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        return sorted(keys)  # "folder/" marker objects made by consoles are not artifacts

    def delete(self, key: str) -> None:
        with self._errors(key):
            self._client().delete_object(Bucket=self.bucket, Key=self._key(key))

    def identity(self, key: str) -> dict[str, Any]:
        """ETag, size and LastModified from one HEAD: cheap, and no byte of the object is downloaded."""
        with self._errors(key):
            head = self._client().head_object(Bucket=self.bucket, Key=self._key(key))
        modified = head.get("LastModified")
        return {"etag": str(head.get("ETag", "")).strip('"'), "size": int(head.get("ContentLength", 0)),
                "lastModified": modified.isoformat() if modified is not None else None}

    def delete_prefix(self, prefix: str) -> None:
        keys = self.list(prefix)
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            with self._errors(""):
                out = self._client().delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": self._key(k)} for k in keys[i:i + 1000]], "Quiet": True})
            if out.get("Errors"):
                first = out["Errors"][0]
                raise StorageError(f"could not delete {len(out['Errors'])} keys under {self.url(prefix)} "
                                   f"(first: {first.get('Key')}: {first.get('Code')})")

    def _put_file(self, src: Path, key: str) -> None:
        with self._errors(key):  # managed transfer: multipart for large model files
            self._client().upload_file(str(src), self.bucket, self._key(key))

    def _get_file(self, key: str, dest: Path) -> None:
        with self._errors(key):  # s3transfer writes a temp file and renames it
            self._client().download_file(self.bucket, self._key(key), str(dest))


def _scheme(uri: str) -> str:
    """"s3", "file" or "" (a plain path); anything else is an input error naming the URI."""
    m = _SCHEME.match(uri or "")
    scheme = m.group(1).lower() if m else ""
    if scheme not in ("", "s3", "file") or not uri:
        raise BadInputError(f"unsupported artifact URI {uri!r}; supported: {SUPPORTED}")
    return scheme


def open_store(uri: str, *, endpoint_url: str | None = None, region: str | None = None,
               path_style: bool = True, field: str = ARTIFACTS_FIELD) -> ArtifactStore:
    """The store for `s3://bucket/prefix`, `file:///abs/path` or a plain path (~ expanded, made absolute).

    `field` is the spec field (or option) the URI came from: error hints name it.
    """
    scheme, parsed = _scheme(uri), urlparse(uri)
    if scheme == "s3":
        return S3Store(parsed.netloc, unquote(parsed.path), endpoint_url=endpoint_url, region=region,
                       path_style=path_style, field=field)
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise BadInputError(f"file URI {uri!r} names host {parsed.netloc!r}; use file:///absolute/path")
        return LocalStore(Path(unquote(parsed.path) or "/"), field=field)
    return LocalStore(Path(uri).expanduser().absolute(), field=field)


def split_uri(uri: str) -> tuple[str, str]:
    """(parent URI, last component), so one file is read as `open_store(parent).read_bytes(name)`."""
    scheme = _scheme(uri)
    if not scheme:
        path = Path(uri).expanduser()
        if uri.endswith("/") or not path.name:
            raise BadInputError(f"path {uri!r} does not name a file")
        return str(path.parent), path.name
    head, _, name = uri[len(scheme) + 3:].rpartition("/")
    if not name or (scheme == "s3" and not head):
        raise BadInputError(f"URI {uri!r} does not name a file; expected e.g. s3://bucket/data/table.csv")
    return f"{uri[:len(scheme) + 3]}{head or '/'}", name


DATA_FIELD = "spec.data.uri"


def read_uri_bytes(uri: str, *, field: str = DATA_FIELD, **s3_options: Any) -> bytes:
    """The bytes of one file named by URI (by default spec.data.uri, which hints name); `s3_options` go to
    `open_store`."""
    parent, name = split_uri(uri)
    return open_store(parent, field=field, **s3_options).read_bytes(name)


def uri_identity(uri: str, *, field: str = DATA_FIELD, **s3_options: Any) -> dict[str, Any]:
    """`ArtifactStore.identity` of one file named by URI: a HEAD on S3, a hash of the local file."""
    parent, name = split_uri(uri)
    return open_store(parent, field=field, **s3_options).identity(name)
