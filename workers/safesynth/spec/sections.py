"""Which spec sections each stage's result depends on: what a spec edit invalidates.

The operator reads this to decide what a spec change touches (restart from the
first changed stage, or refuse the change while that stage runs), and the CRD's
transition rule (safesynth.spec.crd) is generated from it, so the API server
and the operator agree on which edits reach a started stage. The stage runner's
skip hash (safesynth.stages.runner) reads the same table (`output_sections`):
a stage depends on its own section and on every earlier stage's.
`artifacts` is where every stage reads and writes, and `resources.<stage>` how
that stage's Job runs, so both count for the stage too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Optional, Sequence

from safesynth.spec.models import STAGE_ORDER, SafeSynthJobSpec, StageName

STAGE_SECTIONS: dict[StageName, tuple[str, ...]] = {
    StageName.PREPARE: ("data",),
    StageName.PII: ("pii",),
    StageName.TRAIN: ("training", "privacy"),
    StageName.GENERATE: ("generation",),
    StageName.EVALUATE: ("evaluation",),
}
SHARED_SECTIONS: tuple[str, ...] = ("artifacts",)
HASH_LENGTH = 16  # hex characters kept (a label value): 64 bits tell specs apart


def output_sections(stage: StageName) -> tuple[str, ...]:
    """Spec sections `stage` and every stage before it read: what its output depends on (the stage runner's
    skip hash, safesynth.stages.runner)."""
    upto = STAGE_ORDER[: STAGE_ORDER.index(stage) + 1]
    return tuple(s for st in upto for s in STAGE_SECTIONS[st])


def sections_for(stage: StageName) -> tuple[str, ...]:
    """`output_sections`, then the shared ones: what the stage's Job depends on."""
    return output_sections(stage) + SHARED_SECTIONS


def _inputs(wire: Mapping[str, Any], stage: StageName) -> dict[str, Any]:
    out = {section: wire.get(section) for section in sections_for(stage)}
    out["resources"] = (wire.get("resources") or {}).get(stage.value)
    return out


def _wire(spec: SafeSynthJobSpec) -> dict[str, Any]:
    return spec.model_dump(by_alias=True, mode="json", exclude_none=True)


def stage_inputs_hash(spec: SafeSynthJobSpec, stage: StageName) -> str:
    """Short sha256 of what `stage`'s Job and result depend on; equal hashes: the stage's Job still fits."""
    canonical = json.dumps(_inputs(_wire(spec), stage), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def changed_fields(old: SafeSynthJobSpec, new: SafeSynthJobSpec, stage: StageName) -> list[str]:
    """`spec.<section>` paths that differ between two specs and that `stage` depends on."""
    a, b = _inputs(_wire(old), stage), _inputs(_wire(new), stage)
    return [f"spec.resources.{stage.value}" if key == "resources" else f"spec.{key}"
            for key in a if a[key] != b[key]]


def first_changed_stage(old: SafeSynthJobSpec, new: SafeSynthJobSpec,
                        order: Sequence[StageName]) -> Optional[StageName]:
    """The first stage of `order` whose inputs differ between `old` and `new` (None: no stage affected)."""
    return next((s for s in order if stage_inputs_hash(old, s) != stage_inputs_hash(new, s)), None)
