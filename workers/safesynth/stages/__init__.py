"""The pipeline's stages, one module each, in execution order.

A stage module exposes NAME, READS, WRITES and `run(spec, store, progress) ->
summary`; `registry` lists all five and the drivers run them in STAGE_ORDER.
Stages never import each other: what several of them read is in `inputs`.
"""

from __future__ import annotations

from types import ModuleType

from safesynth.errors import BadInputError
from safesynth.spec.models import STAGE_ORDER, StageName


def registry() -> dict[StageName, ModuleType]:
    """Stage modules by name, imported lazily so `--help` stays fast."""
    from safesynth.stages import evaluate, generate, pii, prepare, train

    modules = [prepare, pii, train, generate, evaluate]
    found = {m.NAME: m for m in modules}
    return {name: found[name] for name in STAGE_ORDER if name in found}


def get_stage(name: str) -> ModuleType:
    """The stage module called `name` (as on the command line); exit 2 naming the known ones otherwise."""
    stages = registry()
    try:
        return stages[StageName(name)]
    except (ValueError, KeyError):
        known = ", ".join(s.value for s in stages)
        raise BadInputError(f"unknown stage {name!r}; available stages: {known}") from None
