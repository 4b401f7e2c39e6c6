"""The pipeline's stages, one module each, in execution order.

A stage module exposes NAME, READS, WRITES and `run(spec, store, progress) ->
summary`. Later stages register here as they are built; the drivers run
whatever is registered, in STAGE_ORDER.
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
    stages = registry()
    try:
        return stages[StageName(name)]
    except (ValueError, KeyError):
        known = ", ".join(s.value for s in stages)
        raise BadInputError(f"unknown stage {name!r}; available stages: {known}") from None
