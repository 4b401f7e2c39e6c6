"""`safesynth serve` (the jobs API on this machine) and `safesynth jobs ...` (its command-line client).

    safesynth serve                                   # terminal 1: http://127.0.0.1:8000
    safesynth jobs submit examples/quickstart.yaml --wait
    safesynth jobs results ID --download evaluate/report.html

cli.py mounts `serve_command` and the `jobs` group. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from safesynth.contract import API_URL_ENV

out = Console()
app = typer.Typer(name="jobs", help="Submit, watch, fetch and cancel jobs through the jobs API (`safesynth serve`).",
                  no_args_is_help=True, add_completion=False)

_URL = typer.Option(None, "--url", envvar=API_URL_ENV, help="The jobs API (default http://127.0.0.1:8000).")


def serve_command(
    root: Path = typer.Option(Path("./safesynth-service"), "--root",
                              help="Folder for the job database, manifests, logs and run artifacts (local backend)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (local backend: keep it local)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    max_concurrent_jobs: int = typer.Option(1, "--max-concurrent-jobs", min=1, max=64,
                                            help="Jobs run at once (each trains on this machine's cores)."),
    backend: str = typer.Option("local", "--backend",
                                help="local: jobs run on this machine, no users. cluster: each job is a "
                                     "SafeSynthJob, callers authenticate with their Kubernetes token."),
    kubeconfig: Optional[Path] = typer.Option(None, "--kubeconfig", exists=True, dir_okay=False,
                                              help="Cluster backend outside a pod: a kubeconfig with a bearer "
                                                   "token (default: the pod's ServiceAccount)."),
    default_namespace: str = typer.Option("default", "--default-namespace",
                                          help="Cluster backend: the namespace of callers who name none and are "
                                               "not ServiceAccounts."),
    print_openapi: bool = typer.Option(False, "--print-openapi", help="Print the OpenAPI document and exit."),
) -> None:
    """Serve the jobs API: on this machine (local driver, SQLite) or over a cluster's SafeSynthJobs."""
    import uvicorn

    from safesynth.service.app import create_app

    if print_openapi:
        typer.echo(json.dumps(openapi_document(), indent=2, sort_keys=True))
        return
    if backend not in ("local", "cluster"):
        raise typer.BadParameter("local or cluster", param_hint="--backend")
    service = _cluster_backend(kubeconfig, default_namespace) if backend == "cluster" else \
        _local_backend(root, max_concurrent_jobs)
    service.start()
    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level="info")
    finally:
        service.stop()


def _local_backend(root: Path, max_concurrent_jobs: int) -> Any:
    from safesynth.service.local import LocalBackend

    return LocalBackend(root, max_concurrent=max_concurrent_jobs)


def _cluster_backend(kubeconfig: Optional[Path], default_namespace: str) -> Any:
    from safesynth.service.cluster import ClusterBackend
    from safesynth.service.kube import KubeConnection

    conn = KubeConnection.from_kubeconfig(kubeconfig) if kubeconfig else KubeConnection.in_cluster()
    return ClusterBackend(conn, default_namespace=default_namespace)


def openapi_document() -> dict[str, Any]:
    """The service's OpenAPI document, as checked in at workers/safesynth/service/openapi.json."""
    import tempfile

    from safesynth.service.app import create_app
    from safesynth.service.local import LocalBackend

    with tempfile.TemporaryDirectory() as tmp:
        backend = LocalBackend(Path(tmp))
        try:
            return create_app(backend).openapi()
        finally:
            backend.table.close()


def _client(url: Optional[str]) -> Any:
    from safesynth.client import Client

    return Client(url)


@app.command("submit")
def submit(
    manifest: Path = typer.Argument(..., exists=True, dir_okay=False, help="SafeSynthJob manifest (YAML or JSON)."),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n", help="Namespace (project) of the job."),
    wait: bool = typer.Option(False, "--wait", help="Wait until the job finishes; exit non-zero if it failed."),
    url: Optional[str] = _URL,
) -> None:
    """Submit a job; prints its id."""
    client = _client(url)
    job = client.submit(manifest, namespace)
    out.print(f"{job['id']}  {job['namespace']}/{job['name']}  {job['phase']}")
    if wait:
        job = client.wait(job["id"])
        out.print(f"{job['id']}  {job['phase']}" + (f"  {job['reason']}" if job.get("reason") else ""))
        if job["phase"] != "Succeeded":
            raise typer.Exit(1)


@app.command("list")
def list_jobs(
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n"),
    phase: Optional[str] = typer.Option(None, "--phase"),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    url: Optional[str] = _URL,
) -> None:
    """List jobs, oldest first."""
    page = _client(url).list_jobs(namespace, phase, limit)
    table = Table()
    for col in ("id", "namespace", "name", "phase", "created"):
        table.add_column(col)
    for job in page["data"]:
        table.add_row(job["id"], job["namespace"], job["name"], job["phase"], job["createdAt"])
    out.print(table)
    if page.get("nextPageToken"):
        out.print(f"more: --page-token {page['nextPageToken']}")


@app.command("status")
def status(job_id: str = typer.Argument(...), url: Optional[str] = _URL) -> None:
    """The job's status (the custom resource's .status shape), as JSON."""
    typer.echo(json.dumps(_client(url).status(job_id), indent=2))


@app.command("logs")
def logs(job_id: str = typer.Argument(...), follow: bool = typer.Option(False, "--follow", "-f"),
         url: Optional[str] = _URL) -> None:
    """Print the job's log; --follow streams until it ends."""
    for chunk in _client(url).logs(job_id, follow):
        typer.echo(chunk, nl=False)


@app.command("results")
def results(
    job_id: str = typer.Argument(...),
    download: Optional[str] = typer.Option(None, "--download", help="Artifact key to fetch, e.g. evaluate/report.html."),
    dest: Optional[Path] = typer.Option(None, "--to", help="Where to write the download (default: its file name)."),
    url: Optional[str] = _URL,
) -> None:
    """List the job's artifacts (size, sha256 or S3 ETag), or download one."""
    client = _client(url)
    if download:
        path = client.download(job_id, download, dest or Path(Path(download).name))
        out.print(f"downloaded: {path.resolve()}")
        return
    table = Table()
    for col in ("key", "bytes", "checksum"):
        table.add_column(col)
    for a in client.results(job_id):
        table.add_row(a["key"], str(a["size"]), f"sha256:{a['sha256'][:16]}" if a.get("sha256")
                      else f"etag:{a.get('etag') or ''}")
    out.print(table)


@app.command("cancel")
def cancel(job_id: str = typer.Argument(...), url: Optional[str] = _URL) -> None:
    """Cancel a job: a queued one never runs, a running one is stopped."""
    job = _client(url).cancel(job_id)
    out.print(f"{job['id']}  {job['phase']}")


@app.command("delete")
def delete(job_id: str = typer.Argument(...), url: Optional[str] = _URL) -> None:
    """Cancel, then delete the job record and its artifacts."""
    _client(url).delete(job_id)
    out.print(f"{job_id}  deleted")
