"""S3 outages during a real job: does the job ride out a 60 s outage, and fail retryable on a long one?

    .venv/bin/python benchmarks/s3_outage.py [--outage 60] [--long 600]

A whole `safesynth run` (a 300-row cut of the quickstart, a tiny model) keeps its
input and artifacts on moto's S3 HTTP server behind a TCP proxy that this script
cuts (tests/faultproxy.py: live connections dropped, new ones closed at once).
The cut starts the moment the PII stage's summary lands, so the runner's status
writes and the train stage's first reads fall inside it, and lasts `--outage`
seconds. Reported: the exit code, wall time, connections refused while cut
(proof that requests were made during the outage), whether every stage finished
in that one run, and whether prepare's and pii's artifacts are byte-identical
before and after.

`--long N` adds the second scenario of issue 19: an outage of N seconds (the
proxy stays cut until the run exits or N seconds pass). The stage must fail with
a retryable exit code (1) naming the artifact, and a re-run after the outage
must complete with the earlier artifacts unchanged.

Retries are botocore's standard mode with SAFESYNTH_S3_MAX_ATTEMPTS (default 20,
full-jitter backoff capped at 20 s: ~155 s of waiting on average per request).
Nothing here reads a data value: only object hashes, exit codes and timings.

Measured (`--outage 60 --long 600`, 2 shared cores, load 2.7):

| scenario | cut for s | exit | refused | wall s | status Succeeded | earlier artifacts identical | re-run |
|---|---|---|---|---|---|---|---|
| 60 s outage | 60.1 | 0 | 16 | 102.9 | yes | yes | not needed |
| long outage | 228.5 (until the run gave up) | 1, names the artifact, "retryable" | 40 | 242.4 | yes after re-run | yes | exit 0 in 22 s |
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.faultproxy import CuttableProxy  # noqa: E402  (the repo root goes on the path first)

BUCKET = "outage-bench"
KEY = "testing"
TINY = {"layers": 2, "hiddenSize": 64, "heads": 2, "maxSteps": 30, "batchSize": 32, "threads": 1,
        "vocabSize": 300}


def _no_gates() -> dict[str, None]:
    """Every release gate off: a tiny model's table is not the point here, the storage is."""
    from safesynth.spec.models import GatesSpec

    return {f.alias or n: None for n, f in GatesSpec.model_fields.items()
            if f.annotation is not bool and "require" not in n and "hipaa" not in n}


NO_GATES = _no_gates()


def start_moto() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    return server, f"http://127.0.0.1:{port}"


def client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY,
                        aws_secret_access_key=KEY)


def upload_input(s3: Any) -> str:
    import pandas as pd

    table = pd.read_csv(REPO / "examples" / "data" / "patients.csv").head(300)
    buf = io.BytesIO()
    table.to_csv(buf, index=False)
    s3.put_object(Bucket=BUCKET, Key="in/patients.csv", Body=buf.getvalue())
    return f"s3://{BUCKET}/in/patients.csv"


def write_spec(folder: Path, name: str, data_uri: str, endpoint: str) -> Path:
    spec = {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": name},
            "spec": {"data": {"uri": data_uri, "holdoutRows": 60, "minHoldoutRows": 10, "minTrainRows": 50},
                     "artifacts": {"uri": f"s3://{BUCKET}/runs", "endpoint": endpoint},
                     "training": TINY,
                     "generation": {"numRecords": 100, "maxInvalidFraction": 1.0},
                     "evaluation": {"gates": NO_GATES}}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def artifact_hashes(s3: Any, prefix: str, stages: tuple[str, ...] = ("prepare", "pii")) -> dict[str, str]:
    out = {}
    for stage in stages:
        for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/{stage}/").get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            out[obj["Key"]] = hashlib.sha256(body).hexdigest()
    return out


def wait_for_key(s3: Any, key: str, proc: subprocess.Popen[bytes], timeout: float = 600) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0):
            return True
        time.sleep(0.2)
    return False


def run_job(spec: Path, run_uri: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(REPO / ".venv" / "bin" / "safesynth"), "run", str(spec), "--run-uri", run_uri],
                            cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def scenario(name: str, outage: float, s3: Any, proxy: CuttableProxy, data_uri: str, env: dict[str, str],
             work: Path, until_exit: bool) -> dict[str, Any]:
    """One job with one cut: returns what the table prints."""
    spec = write_spec(work, name, data_uri, proxy.url)
    run_uri = f"s3://{BUCKET}/runs/{name}"
    prefix = f"runs/{name}"
    t0 = time.monotonic()
    proc = run_job(spec, run_uri, env, work / f"{name}.log")
    row: dict[str, Any] = {"scenario": name, "outage s": outage}
    if not wait_for_key(s3, f"{prefix}/pii/summary.json", proc):
        row["result"] = f"never reached train (exit {proc.wait()})"
        return row
    before = artifact_hashes(s3, prefix)
    refused0 = proxy.refused
    proxy.cut()
    cut_at = time.monotonic()
    while time.monotonic() - cut_at < outage and not (until_exit and proc.poll() is not None):
        time.sleep(0.2)
    proxy.restore()
    row["cut for s"] = round(time.monotonic() - cut_at, 1)
    code = proc.wait()
    row["exit"] = code
    row["refused"] = proxy.refused - refused0
    row["wall s"] = round(time.monotonic() - t0, 1)
    if code != 0 and until_exit:  # the long outage: re-run after it, as an operator or a user would
        log = (work / f"{name}.log").read_text(errors="replace")
        row["error names artifact"] = f"s3://{BUCKET}/{prefix}/" in log
        row["says retryable"] = "retryable" in log
        t1 = time.monotonic()
        row["re-run exit"] = run_job(spec, run_uri, env, work / f"{name}-rerun.log").wait()
        row["re-run s"] = round(time.monotonic() - t1, 1)
    status = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/status.json")["Body"].read()
    row["status Succeeded"] = b'"phase": "Succeeded"' in status
    row["earlier artifacts identical"] = artifact_hashes(s3, prefix) == before and bool(before)
    return row


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--outage", type=float, default=60.0, help="seconds of the outage the job must ride out")
    ap.add_argument("--long", type=float, default=0.0, help="also an outage of this many seconds (e.g. 600)")
    args = ap.parse_args(argv)
    server, endpoint = start_moto()
    s3 = client(endpoint)
    s3.create_bucket(Bucket=BUCKET)
    data_uri = upload_input(s3)
    host, port = endpoint.rsplit("//", 1)[1].split(":")
    proxy = CuttableProxy(host, int(port))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": KEY, "AWS_DEFAULT_REGION": "us-east-1"}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS"):
        env.pop(name, None)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="s3-outage-") as tmp:
            work = Path(tmp)
            rows.append(scenario("short", args.outage, s3, proxy, data_uri, env, work, until_exit=False))
            if args.long:
                rows.append(scenario("long", args.long, s3, proxy, data_uri, env, work, until_exit=True))
    finally:
        proxy.close()
        server.stop()
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print(f"S3 outages (moto behind a cut proxy), SAFESYNTH_S3_MAX_ATTEMPTS="
          f"{os.environ.get('SAFESYNTH_S3_MAX_ATTEMPTS', 'default (20)')}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "–")) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    threading.excepthook = lambda a: None  # the proxy's forwarding threads end noisily when cut
    raise SystemExit(main())
