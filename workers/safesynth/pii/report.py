"""pii/report.json and the stage summary: what was found and done, per column, in counts. Never a value.

Each column lists its kind before and after, the detected entity, the
confidence and every signal (source, entity, strength and a reason made of
rule names and percentages), the action and why it was chosen, and how many
cells changed in train and holdout. Free-text columns add span counts per
entity and per detector. The key appears only as its source and (for a
supplied key) its fingerprint.
"""

from __future__ import annotations

from typing import Any, Optional

from safesynth.pii import hipaa
from safesynth.pii.keys import KeyRing
from safesynth.pii.plan import FREE_TEXT, Plan
from safesynth.pii.replace import Applied
from safesynth.schema import TableSchema
from safesynth.spec.models import PiiSpec

REPORT_VERSION = 1


def build_report(
    plan: Plan,
    applied: Applied,
    *,
    n_train: int,
    n_holdout: int,
    keys: KeyRing,
    pii: PiiSpec,
    output_schema: TableSchema,
    vault_rows: Optional[int] = None,
) -> dict[str, Any]:
    out_kinds = {c.name: c.kind.value for c in output_schema.columns}
    columns = []
    for c in plan:
        entry = c.as_dict()
        r = applied.results.get(c.column)
        changed = r.changed if r is not None else None
        entry["changed"] = {
            "train": int(changed[:n_train].sum()) if changed is not None else 0,
            "holdout": int(changed[n_train:].sum()) if changed is not None else 0,
        }
        entry["outputKind"] = out_kinds.get(c.column)  # None: dropped
        if r is not None:
            entry["dropped"] = r.dropped
            if c.mode != FREE_TEXT and not r.dropped:
                entry["distinctReplaced"] = r.distinct
                entry["redrawn"] = r.redrawn
                entry["unresolvedCollisions"] = r.unresolved
            if r.text is not None:
                entry["freeText"] = r.text.as_dict()
        columns.append(entry)
    return {
        "version": REPORT_VERSION,
        "enabled": True,
        "rows": {"train": n_train, "holdout": n_holdout},
        "threshold": pii.threshold,
        "nerScoreThreshold": pii.ner_score_threshold,
        "sampleSize": pii.sample_size,
        "locale": pii.locale,
        "key": {"source": keys.source, **({"fingerprint": keys.fingerprint} if keys.source != "ephemeral" else {})},
        "vault": {"written": vault_rows is not None, **({"rows": vault_rows} if vault_rows is not None else {})},
        "policy": pii.policy.value,
        "columns": columns,
        "hipaaSafeHarbor": {"categories": hipaa.categories(columns, stage_ran=True),
                            "restrictedZip3": sorted(hipaa.RESTRICTED_ZIP3),
                            "restrictedZip3Source": hipaa.RESTRICTED_ZIP3_SOURCE},
    }


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The stage summary (status, termination message): headline counts from the report."""
    cols = report["columns"]
    spans = sum(sum(c.get("freeText", {}).get("spans", {}).values()) for c in cols)
    return {
        "enabled": True,
        "columns": len(cols),
        "piiColumns": sum(1 for c in cols if c["pii"]),
        "changedColumns": sum(1 for c in cols if c["changed"]["train"] + c["changed"]["holdout"] > 0),
        "freeTextColumns": sum(1 for c in cols if c["mode"] == FREE_TEXT),
        "droppedColumns": [c["column"] for c in cols if c.get("dropped")],
        "changedCells": {"train": sum(c["changed"]["train"] for c in cols),
                         "holdout": sum(c["changed"]["holdout"] for c in cols)},
        "freeTextSpans": spans,
        "keySource": report["key"]["source"],
        "entities": {c["column"]: c["entity"] for c in cols if c["pii"] and c["entity"]},
        "actions": {c["column"]: c["action"] for c in cols if c["action"] != "keep"},
    }
