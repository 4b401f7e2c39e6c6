"""Read SafeSynthJob manifests (YAML or JSON) into the spec models.

Every problem is reported with its field path (`spec.privacy.epsilon`) and the
file it came from, all at once, so a user fixes a manifest in one pass.
Messages never echo the offending value: specs may hold URIs users consider
private, and the same text reaches Kubernetes events.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from safesynth.errors import BadInputError, SpecError
from safesynth.spec.models import API_GROUP, KIND, SafeSynthJob, SafeSynthJobSpec
from safesynth.spec.rules import rule_violations

_FRIENDLY = {
    "extra_forbidden": "unknown field; check its spelling (fields are camelCase) against `safesynth crd`",
    "missing": "required field is missing",
}


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def format_validation_error(err: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    """One 'field.path: what is wrong' line per error, without input values."""
    lines = []
    for e in err.errors(include_input=False, include_url=False):
        msg = _FRIENDLY.get(e["type"], e["msg"])
        lines.append(f"{_path(prefix + tuple(e['loc']))}: {msg}")
    return lines


_Model = TypeVar("_Model", bound=BaseModel)


def _validate(model: type[_Model], doc: Any, source: str, prefix: tuple[Any, ...]) -> _Model:
    """The model, or a SpecError listing every field problem and then every CEL rule broken."""
    try:
        obj = model.model_validate(doc)
    except ValidationError as err:
        problems = format_validation_error(err, prefix)
        raise SpecError(f"{source}: invalid {KIND} ({len(problems)} problem(s))", problems) from None
    problems = rule_violations(obj.spec if isinstance(obj, SafeSynthJob) else obj, "spec")
    if problems:
        raise SpecError(f"{source}: invalid {KIND} ({len(problems)} problem(s))", problems)
    return obj


def meant_as_job(doc: Any) -> bool:
    """True when a document is a SafeSynthJob or a misspelt one (`SafeSynthjob`, `SafeSynthJobs`, or any kind
    under our apiVersion), so a typo fails validation instead of being skipped as some other kind."""
    if not isinstance(doc, dict):
        return False
    kind, api = doc.get("kind"), doc.get("apiVersion")
    if kind in (KIND, None) or (isinstance(api, str) and api.split("/")[0] == API_GROUP):
        return True
    return isinstance(kind, str) and bool(difflib.get_close_matches(kind.casefold(), [KIND.casefold()], cutoff=0.8))


def parse_job(doc: Any, source: str = "<manifest>") -> SafeSynthJob:
    """A whole manifest dict → SafeSynthJob, with every problem listed."""
    if not isinstance(doc, dict):
        raise SpecError(f"{source}: expected a mapping with apiVersion, kind, metadata and spec")
    if doc.get("kind") != KIND:  # kinds are case-sensitive in Kubernetes: `SafeSynthjob` is another kind
        raise SpecError(f"{source}: kind is {doc.get('kind')!r}, expected {KIND!r} (kinds are case-sensitive)")
    return _validate(SafeSynthJob, doc, source, ())


def parse_spec(doc: Any, source: str = "<spec>") -> SafeSynthJobSpec:
    """A whole manifest or just its spec → the spec (stage pods get either)."""
    if isinstance(doc, dict) and ("apiVersion" in doc or "kind" in doc):
        return parse_job(doc, source).spec
    if not isinstance(doc, dict):
        raise SpecError(f"{source}: expected a mapping (a {KIND} manifest or its spec)")
    return _validate(SafeSynthJobSpec, doc, source, ("spec",))


def _read_documents(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file; give the path of a {KIND} manifest") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory; give the path of a {KIND} manifest") from None
    except UnicodeDecodeError as err:
        raise BadInputError(f"{path}: not UTF-8 text (byte {err.start}); save the manifest as UTF-8") from None
    if path.suffix == ".json":
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as err:
            raise SpecError(f"{path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg})") from None
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SpecError(f"{where}: not valid YAML ({err.problem})") from None
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: not valid YAML ({type(err).__name__})") from None


def load_jobs(path: str | Path) -> list[SafeSynthJob]:
    """Every SafeSynthJob in a (multi-document) YAML file; other kinds are skipped."""
    path = Path(path)
    docs = _read_documents(path)
    jobs, problems = [], []
    for i, doc in enumerate(docs):
        if isinstance(doc, dict) and not meant_as_job(doc):
            continue
        source = f"{path}" if len(docs) == 1 else f"{path} (document {i + 1})"
        try:
            jobs.append(parse_job(doc, source))
        except SpecError as err:
            problems.append(str(err))
    if problems:
        raise SpecError("\n".join(problems))
    return jobs


def load_job(path: str | Path) -> SafeSynthJob:
    """Exactly one SafeSynthJob from a file, as `safesynth run` needs."""
    jobs = load_jobs(path)
    if len(jobs) != 1:
        raise SpecError(f"{path}: holds {len(jobs)} {KIND} documents; `safesynth run` takes exactly one")
    return jobs[0]


def load_spec_file(path: str | Path) -> SafeSynthJobSpec:
    """A stage's --spec file: a whole manifest or just the spec, YAML or JSON."""
    path = Path(path)
    docs = _read_documents(path)
    if len(docs) != 1:
        raise SpecError(f"{path}: holds {len(docs)} documents; a stage's --spec takes exactly one")
    return parse_spec(docs[0], str(path))

