"""Find and replace PII, offline and explainably, before anything is learned.

Layers, bottom up (each module has one job):

* `hints` (column names), `patterns` (validated value patterns),
  `gazetteer` (name lists shipped inside Faker) and `ner` (the single
  presidio adapter, spaCy's small English model) produce **evidence**;
* `classify` combines it into one decision per column (entity, confidence,
  the signals that fired);
* `plan` turns decisions, the spec's rules and locks into one action per
  column; `actions` holds one module per action behind a registry
  (presidio-style: name, validate, operate);
* `keys` (the HMAC key), `persona` (coherent synthetic people),
  `formats` (format-preserving generators), `freetext` (span replacement)
  and `replace` apply a plan to a table; `spans` holds the span type;
* `report` writes what was done, never a value.

The stage `safesynth.stages.pii` and the command `safesynth pii plan` are
thin shells over `classify_table`, `build_plan` and `apply_plan`. README.md
in this folder is the user-facing summary (defaults, key, offline).
"""

from __future__ import annotations
