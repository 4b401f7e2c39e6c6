"""A trained generator on disk: the folder the train stage uploads to train/model/.

    safesynth.json   format version, columns (kinds, dtypes, categories, bounds),
                     how the model was made, privacy accounting, row count
    tokenizer/       FieldTokenizer (tokenizer.json + specials.json)
    model/           transformers save_pretrained (config + safetensors)

Everything generate needs is here: it never re-reads the schema or the
training table to decode and validate rows, so under DP the validator uses
exactly the DP-safe columns the model was trained with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safesynth.errors import BadInputError
from safesynth.generator.column_info import ColumnInfo, columns_from_json, columns_to_json
from safesynth.generator.tokenizer import FieldTokenizer

FORMAT = 1
MANIFEST = "safesynth.json"


@dataclass
class Bundle:
    columns: list[ColumnInfo]
    tokenizer: FieldTokenizer
    model: Any
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def modeled(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.modeled]


def save_bundle(folder: str | Path, bundle: Bundle) -> None:
    from safesynth.generator.model import save_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bundle.tokenizer.save(folder / "tokenizer")
    save_model(bundle.model, folder / "model")
    manifest = {"format": FORMAT, "columns": columns_to_json(bundle.columns), **bundle.meta}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))


def load_bundle(folder: str | Path, device: str) -> Bundle:
    from safesynth.generator.model import load_model

    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BadInputError(f"train/model/{MANIFEST} is missing; run the train stage first") from None
    if manifest.get("format") != FORMAT:
        raise BadInputError(f"train/model/{MANIFEST} has format {manifest.get('format')}, this version reads "
                            f"{FORMAT}; re-run the train stage")
    columns = columns_from_json(manifest.pop("columns"))
    manifest.pop("format")
    return Bundle(columns, FieldTokenizer.load(folder / "tokenizer"), load_model(folder / "model", device), manifest)
