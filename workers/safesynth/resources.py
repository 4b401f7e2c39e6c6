"""Find data files that ship inside packages we never import or install with deps.

Some wheels carry what we need (the SmolLM2 GGUF, UCI Adult) but depend on
things we must not pull. `make vendor` unpacks them into .cache/vendor; an
installed copy (found by importlib without importing it) wins when present.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from safesynth.contract import VENDOR_ENV
from safesynth.errors import BadInputError


def vendor_dirs() -> list[Path]:
    """Where unpacked vendor wheels may be: $SAFESYNTH_VENDOR_DIR first, then the checkout's .cache/vendor."""
    dirs = []
    if os.environ.get(VENDOR_ENV):
        dirs.append(Path(os.environ[VENDOR_ENV]))
    dirs.append(Path(__file__).resolve().parents[2] / ".cache" / "vendor")
    return dirs


def package_file(package: str, *parts: str) -> Path:
    """Path of `parts` inside `package`, installed or vendored; a clear error when absent."""
    spec = importlib.util.find_spec(package)
    roots = list(spec.submodule_search_locations or []) if spec else []
    roots += [str(d / package) for d in vendor_dirs()]
    for root in roots:
        candidate = Path(root).joinpath(*parts)
        if candidate.exists():
            return candidate
    raise BadInputError(
        f"{package}/{'/'.join(parts)} not found (looked in {len(roots)} place(s)); run `make vendor` "
        f"or set {VENDOR_ENV}"
    )
