"""spec.status: condition upserts move lastTransitionTime only when the status flips."""

from __future__ import annotations

from safesynth.spec.status import set_condition, set_failed

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def test_condition_keeps_its_transition_time_until_the_status_flips() -> None:
    first = set_condition([], "Ready", False, "Running", "stage prepare running", now=T0)
    same = set_condition(first, "Ready", False, "Running", "stage train running", now=T1)
    flipped = set_condition(same, "Ready", True, "Succeeded", now=T1)
    assert [(c.status, c.last_transition_time) for c in first] == [("False", T0)]
    assert [(c.status, c.message, c.last_transition_time) for c in same] == [("False", "stage train running", T0)]
    assert [(c.status, c.reason, c.last_transition_time) for c in flipped] == [("True", "Succeeded", T1)]


def test_other_conditions_are_left_alone_and_new_ones_appended() -> None:
    ready = set_condition([], "Ready", True, "Succeeded", now=T0)
    both = set_failed(ready, True, "BadInput", "stage pii failed", generation=3, now=T1)
    assert [c.type for c in both] == ["Ready", "Failed", "Stalled"]
    assert both[0] == ready[0]
    assert all(c.status == "True" and c.observed_generation == 3 and c.last_transition_time == T1 for c in both[1:])
