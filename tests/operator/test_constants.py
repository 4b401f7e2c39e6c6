"""Child names stay within the 63-character DNS label limit."""

from __future__ import annotations

import pytest

from safesynth.spec.models import MAX_JOB_NAME_LENGTH, STAGE_ORDER, StageName

from safesynth_operator import constants as c


def test_longest_names_fit_a_label_value() -> None:
    """Job names become the pods' `job-name` label, so they must fit 63 characters."""
    name = "a" * MAX_JOB_NAME_LENGTH
    longest = max([c.child_name(name, s) for s in STAGE_ORDER] + [c.spec_configmap_name(name),
                                                                  c.cleanup_job_name(name)], key=len)
    assert len(longest) <= c.DNS_LABEL_MAX


def test_names_are_deterministic_and_reject_long_jobs() -> None:
    assert c.child_name("demo", StageName.TRAIN) == "demo-train"
    assert c.spec_configmap_name("demo") == "demo-spec"
    with pytest.raises(ValueError):
        c.child_name("a" * (MAX_JOB_NAME_LENGTH + 1), StageName.PII)
