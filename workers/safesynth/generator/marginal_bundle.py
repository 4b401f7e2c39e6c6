"""The marginal route's model on disk: what train uploads to train/model/ instead of the LM bundle.

    marginal.json   format, route, DP-safe columns (ColumnInfo), the AIM attributes, the measured cliques and
                    each round's (clique, sigma, selection epsilon), rho budget and spent, the budget plan
    marginal.npz    the model's potentials (post-processing of the measurements) and the noisy measurements

Everything here is DP: the measurements are Gaussian-mechanism outputs, the rest is public or post-processing.
Generate samples from it (`sample_fields`) without reading any training row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from safesynth.generator import aim
from safesynth.generator.column_info import ColumnInfo, columns_from_json, columns_to_json
from safesynth.generator.serialize import Field

MANIFEST = "marginal.json"
ARRAYS = "marginal.npz"
FORMAT = 1


def save(folder: str | Path, cols: list[ColumnInfo], result: aim.AimResult, meta: dict[str, Any]) -> None:
    """Write marginal.json and marginal.npz into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model, arrays = aim.save_model(result)
    manifest = {"format": FORMAT, "columns": columns_to_json(cols), "aim": model, **meta}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    np.savez_compressed(folder / ARRAYS, **arrays)  # type: ignore[arg-type]


def is_marginal(folder: str | Path) -> bool:
    """Whether a downloaded train/model/ folder holds the marginal route's model."""
    return (Path(folder) / MANIFEST).exists()


def load(folder: str | Path) -> tuple[list[ColumnInfo], list[aim.Attribute], Any, dict[str, Any]]:
    """(columns, attributes, mbi model, the rest of the manifest)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    with np.load(folder / ARRAYS) as npz:
        arrays = {k: npz[k] for k in npz.files}
    attrs, model = aim.load_model(manifest.pop("aim"), arrays)
    cols = columns_from_json(manifest.pop("columns"))
    return cols, attrs, model, manifest


def sample_fields(model: Any, attrs: list[aim.Attribute], cols: list[ColumnInfo], n: int, seed: int,
                  text_fields: Optional[dict[str, list[Field]]] = None) -> list[list[Field]]:
    """n rows of field strings for the modeled columns, sampled from the DP model (post-processing)."""
    return aim.decode(aim.sample_indices(model, n, seed), attrs, cols, seed, text_fields)
