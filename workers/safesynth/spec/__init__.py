"""The SafeSynthJob spec models, their loading, and the CRD made from them.

This package imports only pydantic, yaml and cel-python: the operator uses it.
"""

from safesynth.spec.load import load_job, load_jobs, load_spec_file, parse_job, parse_spec
from safesynth.spec.models import (
    API_GROUP,
    API_VERSION,
    KIND,
    STAGE_ORDER,
    SafeSynthJob,
    SafeSynthJobSpec,
    StageName,
)

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "KIND",
    "STAGE_ORDER",
    "SafeSynthJob",
    "SafeSynthJobSpec",
    "StageName",
    "load_job",
    "load_jobs",
    "load_spec_file",
    "parse_job",
    "parse_spec",
]
