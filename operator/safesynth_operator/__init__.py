"""safesynth's control plane: a kopf operator that runs one Kubernetes Job per stage.

Imports only `safesynth.spec`, `.errors` and `.contract` from the worker package
(no torch, pandas or presidio; an import-linter contract in pyproject.toml
checks it), so the operator image stays slim. `handlers` registers the kopf
handlers, `decisions` decides, `reconciler` reads and acts through `cluster`,
`manifests` builds the child objects, `constants` names them.
"""
