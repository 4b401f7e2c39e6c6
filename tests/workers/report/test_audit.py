"""The audit summary (safesynth/audit.py): PII handling, Safe Harbor, DP, attacks; no values."""

from __future__ import annotations

import ast
import json
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import safesynth
from safesynth.audit import PACKAGES, build_audit, dp_section, handling, pii_columns, safe_harbor
from safesynth.spec import parse_spec


def test_pii_rows_keep_only_whitelisted_fields() -> None:
    rows = pii_columns({"columns": {"name": {"entity": "PERSON", "action": "fake", "examples": ["Jane Doe"]}}},
                       {"name": {"entity": "PERSON", "action": "fake"}, "ssn": {"entity": None, "action": "drop"}})
    assert [r["column"] for r in rows] == ["name", "ssn"]
    assert "examples" not in rows[0] and rows[0]["handling"] == "removed or replaced"
    assert handling("keep").startswith("KEPT") and handling("dateShift").startswith("transformed")


def _normalized(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()  # PEP 503, so "Jinja2" and "jinja2" are one name


def test_audit_versions_name_only_imported_distributions() -> None:
    """A package the audit lists must be one safesynth imports: a declared but unused one did not compute anything."""
    imported: set[str] = set()
    for path in Path(safesynth.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    by_module = metadata.packages_distributions()
    used = {_normalized(dist) for module in imported for dist in by_module.get(module, [])}
    assert [p for p in PACKAGES if _normalized(p) not in used] == []


def test_safe_harbor_lists_all_18_categories() -> None:
    cats = safe_harbor([{"column": "name", "entity": "PERSON", "action": "fake", "handling": "removed or replaced"},
                        {"column": "zip", "entity": "ZIP_CODE", "action": "generalize", "handling": "transformed"}])
    assert len(cats) == 18 and [c["code"] for c in cats][:2] == ["A", "B"]
    found = {c["code"]: c for c in cats if c["found"]}
    assert set(found) == {"A", "B"} and found["B"]["columns"] == ["zip"]


def test_dp_section_from_spec_and_train_summary() -> None:
    spec = parse_spec({"data": {"uri": "x.csv"}, "privacy": {"enabled": True, "epsilon": 4}})
    dp = dp_section(spec, {"epsilonSpent": 3.98, "delta": 1e-6, "noiseMultiplier": 0.9})
    assert dp["enabled"] and dp["epsilonTarget"] == 4 and dp["epsilonSpent"] == 3.98 and dp["accountant"] == "prv"
    off = dp_section(parse_spec({"data": {"uri": "x.csv"}}), None)
    assert off["enabled"] is False and off["epsilonSpent"] is None and not off["trainSummaryFound"]
    assert dp_section(None, None)["enabled"] is None  # standalone command: unknown, not "off"
    assert dp_section(None, {"epsilonSpent": 2.0})["enabled"] is True


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_full_audit(full_evaluation: dict[str, Any]) -> None:
    audit = full_evaluation["audit"]
    json.dumps(audit, allow_nan=False)
    attacks = {a["attack"] for a in audit["attacks"]}
    assert {"membership/dcr", "membership/domias", "dcr", "pii_replay/name", "pii_replay/zip"} <= attacks
    assert any(a.startswith("attribute/") for a in attacks)
    assert audit["differentialPrivacy"]["epsilonSpent"] == 7.9 and audit["holdout"]["rows"] == 200
    assert audit["stages"]["prepare"]["durationSeconds"] == 2.0
    assert "MUST NOT BE COPIED" not in json.dumps(audit)
    spec = parse_spec({"data": {"uri": "x.csv", "seed": 5}, "generation": {"seed": 9}})
    other = build_audit(evaluation=full_evaluation["evaluation"], spec=spec, spec_hash="abc")
    assert other["seeds"]["data"] == 5 and other["seeds"]["generation"] == 9 and len(other["specSha256"]) == 64
