"""What more than one stage reads, decided once, so that no stage imports another.

The stages after `pii` read its output when it is there and prepare's otherwise
(a run made before the PII stage existed, or a hand-made run in tests). That
rule lives here, in `input_prefix`; an import-linter contract keeps the stage
modules independent of each other, so shared helpers have to live here too.
"""

from __future__ import annotations

from typing import Any, Optional

from safesynth.spec.models import StageName
from safesynth.store import ArtifactStore

TRAIN_TABLE = "train.parquet"  # the training split, as prepare writes it and pii rewrites it


def input_prefix(store: ArtifactStore) -> str:
    """The folder later stages read: pii when the PII stage wrote its training table, else prepare."""
    pii = StageName.PII.value
    return pii if store.exists(f"{pii}/{TRAIN_TABLE}") else StageName.PREPARE.value


def read_json_if_present(store: ArtifactStore, key: str) -> Optional[Any]:
    """The JSON document at `key`, or None when the run has none (an optional input)."""
    return store.read_json(key) if store.exists(key) else None
