"""The generator: a causal LM over serialized rows, trained from scratch or fine-tuned with LoRA.

Modules, bottom-up (each has one job; heavy imports stay inside functions or
the modules that need them):

- `columns`   what the generator knows about each column (kind, dtype, allowed
               categories, bounds); the one place that reads prepare's schema.json.
- `serialize` row <-> fields (one string or null per column), lossless per kind.
- `tokenizer` fields <-> token ids: a byte-level BPE trained in code, or a
               pretrained tokenizer; fields are joined by separator *ids*, so
               values never need escaping.
- `identifiers` fresh ids for identifier columns (never learned).
- `model`, `lora` build or load the causal LM; LoRA through peft.
- `dp`, `public`  budget split, DP release of the schema, DP-SGD through opacus;
               public schema-only rows for pretraining.
- `training`  the optimisation loop (AdamW, warmup + cosine, progress).
- `formats`, `grammar` what a row may look like, as token automata.
- `sampling`  batched decoding with a KV cache under the grammar.
- `validate`  parse generated rows and reject what breaks the schema.
- `bundle`    save/load a trained generator (the train/model/ folder).
- `device`    CUDA/CPU choice and torch threads.

The stages `safesynth.stages.train` and `safesynth.stages.generate` are thin
shells over these.
"""
