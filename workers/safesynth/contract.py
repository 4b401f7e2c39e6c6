"""The stage contract's names and numbers, in one place.

Workers (stages, the local driver, the CLI) and the operator both read these:
the operator builds Jobs whose pods run `safesynth stage`, reads the summaries
those pods write and turns their exit codes into retry decisions. When a name
here changes, both sides change with it. This module imports nothing, so the
operator (which must never import pandas, torch or the stages) can use it.
"""

from __future__ import annotations

from typing import Final

# --- exit codes: a stage's process exit status is its retry policy
EXIT_OK: Final = 0
EXIT_RETRYABLE: Final = 1  # anything not listed below is retryable as well
EXIT_BAD_INPUT: Final = 2  # bad input data, config or command line: retrying cannot help
EXIT_PRIVACY_BUDGET: Final = 3  # the privacy budget cannot be met with these settings
EXIT_GATE_NOT_MET: Final = 4  # a release gate (spec.evaluation.gates) failed: the same inputs fail again
#: Exit codes that fail a stage Job at once (podFailurePolicy FailJob) and are never retried.
PERMANENT_EXIT_CODES: Final = (EXIT_BAD_INPUT, EXIT_PRIVACY_BUDGET, EXIT_GATE_NOT_MET)

# --- artifact keys, relative to the run URI
SUMMARY_FILE: Final = "summary.json"  # each stage writes <stage>/summary.json last: its commit marker
STATUS_KEY: Final = "status.json"  # the local driver's copy of the custom resource's .status
SYNTHETIC_TABLE_KEY: Final = "generate/synthetic.parquet"
SYNTHETIC_CSV_KEY: Final = "generate/synthetic.csv"
REPORT_KEY: Final = "evaluate/report.html"
METRICS_KEY: Final = "evaluate/metrics.json"
AUDIT_KEY: Final = "evaluate/audit.json"
# A sharded stage (spec.generation.shards > 1) keeps each shard's output under <stage>/shards/<index>/,
# with that shard's own summary.json written last, as a stage's; the stage's merge reads them in index order.
SHARDS_DIR: Final = "shards"
SHARD_ROWS_FILE: Final = "rows.parquet"  # a generate shard's accepted rows (modeled columns only)
SHARD_INDEX_ENV: Final = "JOB_COMPLETION_INDEX"  # what the Job controller sets in each pod of an Indexed Job


def summary_key(stage: str) -> str:
    """`<stage>/summary.json`: where a stage's commit marker lives."""
    return f"{stage}/{SUMMARY_FILE}"


def shard_prefix(stage: str, index: int) -> str:
    """`<stage>/shards/<index>/`: where one shard of a sharded stage writes."""
    return f"{stage}/{SHARDS_DIR}/{index}/"


def shard_summary_key(stage: str, index: int) -> str:
    """`<stage>/shards/<index>/summary.json`: one shard's commit marker."""
    return f"{shard_prefix(stage, index)}{SUMMARY_FILE}"


# --- summary keys that fill the status headline (wire name in a summary → Headline field)
HEADLINE_KEYS: Final = {
    "sqs": "sqs",
    "dps": "dps",
    "epsilonSpent": "epsilon_spent",
    "rowsGenerated": "rows_generated",
}

# --- environment variables read by `safesynth stage` and the worker libraries
TERMINATION_ENV: Final = "SAFESYNTH_TERMINATION_LOG"  # file the pod's termination message goes to
PII_KEY_ENV: Final = "SAFESYNTH_PII_KEY"  # the PII stage's keyed-replacement secret
DEBUG_ENV: Final = "SAFESYNTH_DEBUG"  # "1" shows unexpected exceptions' messages (they may hold data)
VENDOR_ENV: Final = "SAFESYNTH_VENDOR_DIR"  # where unpacked vendor wheels live

# --- S3 retries and timeouts (safesynth.store.s3_retry_config)
S3_ATTEMPTS_ENV: Final = "SAFESYNTH_S3_MAX_ATTEMPTS"  # total tries per S3 request, first one included
S3_RETRY_MODE_ENV: Final = "SAFESYNTH_S3_RETRY_MODE"  # botocore retry mode: standard (default) or adaptive
S3_MAX_ATTEMPTS: Final = 20  # full-jitter backoff capped at 20 s: ~155 s of waiting on average, rides out 60 s
S3_CONNECT_TIMEOUT_S: Final = 5  # a TCP connect to a live endpoint takes milliseconds; a dead one is retried
S3_READ_TIMEOUT_S: Final = 30  # S3 answers in well under a second; a hung connection is dropped and retried

# --- limits
MESSAGE_MAX: Final = 2000  # characters of a stage error message kept in summaries and status
TERMINATION_LIMIT: Final = 4096  # bytes Kubernetes keeps of a container's termination message
API_URL_ENV: Final = "SAFESYNTH_API_URL"  # where `safesynth jobs ...` finds the jobs API
