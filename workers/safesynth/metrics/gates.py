"""Release gates: the evaluation's numbers against spec.evaluation.gates, as one decision.

Pure: an `Evaluation` and a `GatesSpec` in, one `GateResult` per gate out.
The evaluate stage and `safesynth evaluate` both call `check_gates`, so the
spec's gates and `--gate NAME=VALUE` give the same decision on the same
tables. Rules:
  - a gate whose threshold is null is off (not listed);
  - a gate whose score does not apply (no holdout, no target, the PII stage
    did not run) is "not checked" (passed None) with the reason, and does not block;
  - a gate whose score failed to compute fails: a release must not rest on an error;
  - the two requirement gates (differential privacy, HIPAA Safe Harbor) fail
    unless the requirement is shown to hold.
Released = gates enabled ⇒ no gate failed. Names are the spec's wire names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Protocol, Union

from safesynth.metrics.base import MetricResult, Status
from safesynth.metrics.scores import Composite
from safesynth.spec.models import GatesSpec


class Evaluation(Protocol):
    """What the gates read of an evaluation.Evaluation (a protocol, so evaluation may import this module)."""

    results: dict[str, MetricResult]
    sqs: Composite
    dps: Composite
    dp: Optional[dict[str, Any]]

Value = Union[float, bool, None]


@dataclass(frozen=True)
class GateResult:
    name: str  # the spec's wire name, e.g. "minDetection"
    title: str
    threshold: Union[float, bool]
    value: Value
    passed: Optional[bool]  # None: not checked (the score does not apply)
    reason: str  # plain words: why it passed, failed or was not checked

    def to_json(self) -> dict[str, Any]:
        v = self.value
        return {"name": self.name, "title": self.title, "threshold": self.threshold,
                "value": round(v, 4) if isinstance(v, float) and math.isfinite(v) else (
                    None if isinstance(v, float) else v),
                "passed": self.passed, "reason": self.reason}


@dataclass(frozen=True)
class _Numeric:
    field: str  # GatesSpec attribute
    title: str
    minimum: bool  # True: value ≥ threshold passes; False: value ≤ threshold passes
    read: Callable[[Evaluation], tuple[Value, Optional[str], bool]]  # (value, why not, failed to compute)
    unit: str = ""


def _metric(name: str, key: Optional[str] = None) -> Callable[[Evaluation], tuple[Value, Optional[str], bool]]:
    """Read a metric's score (key None) or one statistic; (None, reason, errored) when it has none."""
    def read(ev: Evaluation) -> tuple[Value, Optional[str], bool]:
        res: Optional[MetricResult] = ev.results.get(name)
        if res is None:
            return None, f"metric {name} did not run", True
        if res.status is Status.NOT_APPLICABLE:
            return None, res.reason, False
        if not res.ok:
            return None, f"metric {name} failed ({res.reason})", True
        v = res.score if key is None else res.statistic.get(key)
        return (float(v), None, False) if v is not None else (None, f"{name} has no {key}", False)
    return read


def _composite(attr: str) -> Callable[[Evaluation], tuple[Value, Optional[str], bool]]:
    def read(ev: Evaluation) -> tuple[Value, Optional[str], bool]:
        comp = getattr(ev, attr)
        if math.isfinite(comp.value):
            return float(comp.value), None, False
        reasons = "; ".join(f"{c.title}: {c.reason}" for c in comp.components if c.reason)
        return None, f"no {comp.name} ({reasons or 'no component applies'})", False
    return read


NUMERIC_GATES: tuple[_Numeric, ...] = (
    _Numeric("min_quality", "Quality (SQS)", True, _composite("sqs")),
    _Numeric("min_detection", "Detection score", True, _metric("detection")),
    _Numeric("min_utility_ratio", "ML utility ratio", True, _metric("ml_utility", "ratio")),
    _Numeric("min_privacy", "Privacy (DPS)", True, _composite("dps")),
    _Numeric("max_membership_tpr_at1_fpr", "Membership attack TPR at 1% FPR", False,
             _metric("membership_inference", "tprAt1PctFpr"), "share"),
    _Numeric("max_singling_out_risk", "Singling-out risk (Anonymeter)", False,
             _metric("singling_out", "maxRisk"), "share"),
    _Numeric("max_linkability_risk", "Linkability risk (Anonymeter)", False, _metric("linkability", "risk"), "share"),
    _Numeric("max_exact_copies", "Exact copies of training rows", False,
             _metric("copies", "copyShareBeyondChance"), "share"),
    _Numeric("max_pii_replay", "PII replay", False, _metric("pii_replay", "maxExcessReplay"), "share"),
)


def wire_name(field: str) -> str:
    """The spec's camelCase name of a GatesSpec field."""
    alias = GatesSpec.model_fields[field].alias
    return alias or field


def _fmt(x: float, unit: str) -> str:
    return f"{100 * x:.1f}%" if unit == "share" else f"{x:.2f}"


def _numeric(gate: _Numeric, threshold: float, ev: Evaluation) -> GateResult:
    value, why_not, errored = gate.read(ev)
    name = wire_name(gate.field)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        if errored:
            return GateResult(name, gate.title, threshold, None, False, f"could not be checked: {why_not}")
        return GateResult(name, gate.title, threshold, None, None, f"not checked: {why_not}")
    assert isinstance(value, float)
    ok = value >= threshold if gate.minimum else value <= threshold
    op = ("≥" if ok else "<") if gate.minimum else ("≤" if ok else ">")
    word = "at least" if gate.minimum else "at most"
    reason = (f"{gate.title} is {_fmt(value, gate.unit)} {op} {_fmt(threshold, gate.unit)}"
              + ("" if ok else f"; it must be {word} {_fmt(threshold, gate.unit)}"))
    return GateResult(name, gate.title, threshold, value, ok, reason)


def _dp_gate(ev: Evaluation) -> GateResult:
    dp = ev.dp or {}
    on = dp.get("enabled") is True
    eps = dp.get("epsilonSpent")
    if on:
        reason = "trained with differential privacy" + (f" (ε = {eps:.2f})" if isinstance(eps, (int, float)) else "")
    elif dp.get("enabled") is None:
        reason = "not shown: nothing says how this table was made (scored outside a job)"
    else:
        reason = "trained without differential privacy (spec.privacy.enabled is false)"
    return GateResult(wire_name("require_differential_privacy"), "Differential privacy", True, on, on, reason)


def _hipaa_gate(hipaa_met: Optional[bool], why: str) -> GateResult:
    return GateResult(wire_name("hipaa_safe_harbor"), "HIPAA Safe Harbor", True, hipaa_met, hipaa_met is True, why)


def check_gates(gates: GatesSpec, ev: Evaluation, *, hipaa_met: Optional[bool] = None,
                hipaa_reason: str = "") -> list[GateResult]:
    """Every enabled gate's result, in the spec's order. Empty when gates are off."""
    if not gates.enabled:
        return []
    out = []
    for gate in NUMERIC_GATES:
        threshold = getattr(gates, gate.field)
        if threshold is not None:
            out.append(_numeric(gate, float(threshold), ev))
    if gates.require_differential_privacy:
        out.append(_dp_gate(ev))
    if gates.hipaa_safe_harbor:
        out.append(_hipaa_gate(hipaa_met, hipaa_reason or ("every detected category removed or replaced"
                                                            if hipaa_met else "not shown to hold")))
    return out


def released(results: list[GateResult]) -> bool:
    """No gate failed (a gate not checked does not block)."""
    return all(r.passed is not False for r in results)


def verdict(results: list[GateResult], enabled: bool = True) -> dict[str, Any]:
    """What summaries, metrics.json and the report carry: `released`, every gate, the failed ones in words."""
    failed = [r for r in results if r.passed is False]
    return {"gatesEnabled": enabled, "released": released(results),
            "gates": [r.to_json() for r in results],
            "failedGates": [r.name for r in failed],
            "verdict": ("released: every gate passed" if not failed and enabled else
                        "released: gates are off" if not enabled else
                        "not released: " + "; ".join(r.reason for r in failed))}


def hipaa_from_audit(hipaa: Mapping[str, Any], pii_stage_ran: bool) -> tuple[Optional[bool], str]:
    """(met, reason) from the audit's Safe Harbor table: an overall answer when it gives one, else
    met when the PII stage ran and every category found was removed or replaced."""
    for key in ("met", "safeHarborMet", "overall"):
        v = hipaa.get(key)
        if isinstance(v, bool):
            return v, str(hipaa.get("overallReason") or ("met" if v else "not met"))
    if not pii_stage_ran:
        return None, "not checked: the PII stage did not run"
    cats = [c for c in hipaa.get("categories", []) if c.get("found")]
    bad = [c["code"] for c in cats if any("removed or replaced" not in h for h in c.get("handling", []))]
    if bad:
        return False, "categories not removed or replaced: " + ", ".join(bad)
    return True, "every detected category removed or replaced"


def parse_overrides(pairs: list[str], base: Optional[GatesSpec] = None) -> GatesSpec:
    """`NAME=VALUE` pairs (wire names; VALUE a number, true/false, or off/none) over `base` (defaults).

    Raises ValueError naming the bad pair; the CLI turns it into exit 2.
    """
    base = base or GatesSpec()
    wire = base.model_dump(by_alias=True)
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or name not in wire or name == "enabled":
            known = ", ".join(k for k in wire if k != "enabled")
            raise ValueError(f"--gate {pair!r}: expected NAME=VALUE with NAME one of {known}")
        low = raw.lower()
        if isinstance(wire[name], bool):
            wire[name] = low in ("true", "yes", "1", "on")
        else:
            wire[name] = None if low in ("off", "none", "null") else raw
    try:
        return GatesSpec.model_validate(wire)
    except Exception as exc:  # pydantic's message names the field and the bound, not data
        raise ValueError(f"--gate: {exc}") from None
