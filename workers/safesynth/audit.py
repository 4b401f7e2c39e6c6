"""The audit summary a compliance reviewer files: what ran, on what, with which settings and results.

`build_audit` is pure: the evaluate stage (or the standalone command) hands in
what it read, and gets back the dict written to `evaluate/audit.json` and
rendered as the report's audit section. It holds hashes, versions, seeds,
timestamps, per-column PII handling (entity types and actions only, never
values), HIPAA Safe Harbor categories found and how each was handled, the
holdout size, DP parameters and every attack with its result.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from datetime import datetime, timezone
from importlib import metadata
from typing import TYPE_CHECKING, Any, Mapping, Optional

import safesynth
from safesynth.pii import hipaa

if TYPE_CHECKING:
    from safesynth.metrics.evaluation import Evaluation
    from safesynth.spec.models import SafeSynthJobSpec

AUDIT_FORMAT = 1
# The distributions safesynth imports (tests/workers/report/test_audit.py checks each is imported somewhere):
# the audit names what computed the result, not everything the package declares. PII detection: presidio-analyzer's
# recognizers, spaCy's NER, tldextract's public-suffix snapshot, phonenumbers' metadata (presidio-anonymizer is not
# used: our actions replace values).
PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "torch", "transformers", "peft", "opacus",
            "sentence-transformers", "presidio-analyzer", "spacy", "tldextract", "phonenumbers", "faker", "jinja2")

# HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i): the 18 identifier categories and our entity types for each, from
# the one map the PII stage's report also uses (safesynth.pii.hipaa).
SAFE_HARBOR: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (code, label, tuple(e.value for e in entities)) for code, label, entities in hipaa.CATEGORIES)
_REMOVED = {"fake", "hash", "mask", "redact", "drop", "tokenize"}
_TRANSFORMED = {"generalize", "dateshift", "perturb"}
_PII_KEYS = ("entity", "entityType", "confidence", "score", "action", "signals", "valuesChanged", "changed",
             "spansReplaced", "freeText", "kind")


def handling(action: Optional[str]) -> str:
    a = (action or "").lower()
    if a in _REMOVED:
        return "removed or replaced"
    if a in _TRANSFORMED:
        return "transformed: check it meets Safe Harbor (e.g. zip to 3 digits, dates to year, ages over 89 pooled)"
    if a == "keep":
        return "KEPT: not de-identified"
    return "unknown"


def versions() -> dict[str, Optional[str]]:
    out: dict[str, Optional[str]] = {"safesynth": safesynth.__version__, "python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def spec_sha256(spec: SafeSynthJobSpec) -> str:
    wire = spec.model_dump(by_alias=True, mode="json")
    return hashlib.sha256(json.dumps(wire, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def pii_columns(pii_report: Optional[Mapping[str, Any]], replaced: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per PII column: entity, action and the report's non-value fields (whitelisted keys only)."""
    rows: dict[str, dict[str, Any]] = {}
    cols = (pii_report or {}).get("columns", {})
    entries = cols.items() if isinstance(cols, Mapping) else ((e.get("column", e.get("name")), e) for e in cols
                                                              if isinstance(e, Mapping))
    for name, e in entries:
        if isinstance(e, Mapping) and str(name) in replaced:
            rows[str(name)] = {"column": str(name), **{k: e[k] for k in _PII_KEYS if k in e}}
    for name, info in replaced.items():
        row = rows.setdefault(name, {"column": name})
        row.setdefault("entity", info.get("entity"))
        row.setdefault("action", info.get("action"))
        row["handling"] = handling(row.get("action"))
    return [rows[k] for k in sorted(rows)]


def safe_harbor(pii_rows: list[dict[str, Any]], stage_ran: bool = True) -> list[dict[str, Any]]:
    """Per Safe Harbor category: found / not found / not checked, the columns and what was done
    (`safesynth.pii.hipaa.categories`, the same table the PII report holds)."""
    rows = [{**r, "pii": True} for r in pii_rows]
    return hipaa.categories(rows, stage_ran=stage_ran)


def attacks(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Every privacy attack that ran (or why it did not), with its headline result."""
    out: list[dict[str, Any]] = []
    for name in ("membership_inference", "attribute_inference", "dcr", "pii_replay"):
        res = evaluation.results.get(name)
        if res is None:
            continue
        base = {"metric": name, "status": res.status.value, "score": None if not math.isfinite(res.score)
                else round(res.score, 3), "reason": res.reason}
        if name == "membership_inference" and res.ok:
            for d in res.details:
                out.append({**base, "attack": f"membership/{d['attack']}", "auc": d["auc"],
                            "tprAt1PctFpr": d["tprAt1PctFpr"], "epsilonLowerBound": d["epsilonLowerBound"],
                            "members": d["members"], "nonMembers": d["nonMembers"]})
        elif name == "attribute_inference" and res.ok:
            for d in res.details:
                if "risk" in d:
                    out.append({**base, "attack": f"attribute/{d['secret']}", "risk": d["risk"],
                                "riskInterval": [d["riskLow"], d["riskHigh"]], "mainRate": d["mainRate"],
                                "controlRate": d["controlRate"], "baselineRate": d["baselineRate"],
                                "targets": d["targets"]})
        elif name == "dcr" and res.ok:
            out.append({**base, "attack": "dcr", "shareCloserToTrain": res.statistic["shareCloserToTrain"],
                        "exactCopiesOfTrainingRows": res.statistic["exactCopiesOfTrainingRows"]})
        elif name == "pii_replay" and res.ok:
            for d in res.details:
                out.append({**base, "attack": f"pii_replay/{d['column']}", "checked": d.get("checked"),
                            "replayShare": d.get("replayShare"), "controlShare": d.get("controlShare"),
                            "reasonNotChecked": d.get("reason")})
        else:
            out.append({**base, "attack": name})
    return out


def dp_section(spec: Optional[SafeSynthJobSpec], train_summary: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    ts: dict[str, Any] = dict(train_summary or {})
    privacy = ts.get("privacy")
    nested: Mapping[str, Any] = privacy if isinstance(privacy, Mapping) else {}

    def pick(*keys: str) -> Any:
        for k in keys:
            for src in (ts, nested):
                if src.get(k) is not None:
                    return src[k]
        return None

    if spec is not None:
        enabled: Optional[bool] = spec.privacy.enabled
    elif train_summary is not None:
        enabled = bool(pick("dp", "dpEnabled", "epsilonSpent"))
    else:
        enabled = None  # tables scored outside a job: nobody told us how they were made
    return {
        "enabled": enabled,
        "epsilonTarget": spec.privacy.epsilon if spec is not None and enabled else pick("epsilonTarget", "targetEpsilon"),
        "epsilonSpent": pick("epsilonSpent", "epsilon"),
        "delta": pick("delta") if pick("delta") is not None else (spec.privacy.delta if spec is not None else None),
        "accountant": pick("accountant") or (spec.privacy.accountant.value if spec is not None and enabled else None),
        "noiseMultiplier": pick("noiseMultiplier"),
        "maxGradNorm": pick("maxGradNorm") or (spec.privacy.max_grad_norm if spec is not None and enabled else None),
        "sampleRate": pick("sampleRate"),
        "steps": pick("steps"),
        "trainSummaryFound": train_summary is not None,
    }


def build_audit(
    *,
    evaluation: Evaluation,
    spec: Optional[SafeSynthJobSpec] = None,
    spec_hash: Optional[str] = None,
    pii_report: Optional[Mapping[str, Any]] = None,
    replaced: Optional[Mapping[str, Mapping[str, Any]]] = None,
    train_summary: Optional[Mapping[str, Any]] = None,
    stage_summaries: Optional[Mapping[str, Mapping[str, Any]]] = None,
    inputs: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    seed = spec.data.seed if spec is not None else evaluation.options.seed
    pii_rows = pii_columns(pii_report, replaced or {})
    return {
        "format": AUDIT_FORMAT,
        "generatedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "specHash": spec_hash,
        "specSha256": spec_sha256(spec) if spec is not None else None,
        "versions": versions(),
        "seeds": {
            "data": seed,
            "training": spec.training.seed if spec is not None and spec.training.seed is not None else seed,
            "generation": spec.generation.seed if spec is not None and spec.generation.seed is not None else seed,
            "evaluation": evaluation.options.seed,
        },
        "stages": {name: {k: s.get(k) for k in ("startedAt", "finishedAt", "durationSeconds", "specHash", "version")}
                   for name, s in (stage_summaries or {}).items()},
        "inputs": dict(inputs or {}),
        "rows": dict(evaluation.rows),
        "holdout": {
            "rows": evaluation.rows.get("holdout", 0),
            "fraction": spec.data.holdout_fraction if spec is not None else None,
            "usedFor": ["membership non-members", "attribute-inference control", "DCR reference",
                        "ML-utility test set"],
            "neverTrainedOn": spec is not None,
        },
        "pii": {
            "stageRan": pii_report is not None or bool(replaced),
            "columns": pii_rows,
        },
        "hipaaSafeHarbor": {
            "categories": safe_harbor(pii_rows, stage_ran=pii_report is not None or bool(replaced)),
            "note": ("Detected categories and their handling, to support (not replace) a Safe Harbor or Expert "
                     "Determination review: Safe Harbor also requires no actual knowledge that the rest could "
                     "identify a person, and categories without a detector (fax, vehicle, device, biometric, "
                     "photographs) need a manual check."),
        },
        "differentialPrivacy": dp_section(spec, train_summary),
        "attacks": attacks(evaluation),
        "scores": {"sqs": evaluation.sqs.to_json(), "dps": evaluation.dps.to_json()},
    }
