"""Replacement actions, one module each, registered by name (see `base`).

Importing this package registers every action; `get_action(PiiAction.HASH)`
returns the instance. The spec's `PiiAction` enum and this registry must
agree: tests/workers/pii/test_actions.py checks every member.
"""

from __future__ import annotations

from safesynth.pii.actions import (  # noqa: F401  (each module registers its action)
    date_shift,
    drop,
    fake,
    generalize,
    keyed_hash,
    keep,
    mask,
    perturb,
    redact,
    tokenize,
)
from safesynth.pii.actions.base import Action, ActionParams, Target, ValueContext, get_action, registered

__all__ = ["Action", "ActionParams", "Target", "ValueContext", "get_action", "registered"]
