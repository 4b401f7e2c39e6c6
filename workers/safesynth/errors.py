"""Errors that carry their exit code, so retries are decided by type, not by text.

The CLI maps these to process exit codes; a stage pod's exit code is read by the
Job's podFailurePolicy (2, 3 and 4 fail the Job at once) and by the operator.
Messages say what was wrong, where, and what to do, but never repeat data values.
"""

from __future__ import annotations

from safesynth.contract import EXIT_BAD_INPUT, EXIT_GATE_NOT_MET, EXIT_PRIVACY_BUDGET, EXIT_RETRYABLE


class SafeSynthError(Exception):
    """Base error. Anything not a subclass below is retryable (exit 1)."""

    exit_code: int = EXIT_RETRYABLE
    reason: str = "Error"


class BadInputError(SafeSynthError):
    """Bad input data or configuration: retrying cannot help (exit 2)."""

    exit_code = EXIT_BAD_INPUT
    reason = "BadInput"


class SpecError(BadInputError):
    """The SafeSynthJob manifest or spec is invalid; `problems` lists each by field path."""

    reason = "InvalidSpec"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        full = message if not self.problems else message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(full)


class PrivacyBudgetError(SafeSynthError):
    """The requested privacy budget cannot be met with these settings (exit 3, never retried)."""

    exit_code = EXIT_PRIVACY_BUDGET
    reason = "PrivacyBudget"


class GateNotMetError(SafeSynthError):
    """A release gate failed (exit 4, never retried): the synthetic table must not be released.

    Raised after the evaluate stage has written its artifacts, so the report and
    metrics stay for inspection; `summary` is that stage's summary (gate names,
    thresholds, values, results; never data values).
    """

    exit_code = EXIT_GATE_NOT_MET
    reason = "GateNotMet"

    def __init__(self, message: str, summary: dict[str, object] | None = None) -> None:
        self.summary = summary or {}
        super().__init__(message)


class ArtifactNotFoundError(BadInputError):
    """A key that a stage needs is missing from the artifact store."""

    reason = "ArtifactNotFound"


class StorageError(SafeSynthError):
    """The artifact store failed in a way that may pass (network, throttling): retryable."""

    reason = "StorageError"
