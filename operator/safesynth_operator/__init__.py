"""safesynth's control plane: a kopf operator that runs one Kubernetes Job per stage.

Imports only `safesynth.spec` from the worker package (no torch, pandas or
presidio), so the operator image stays slim. The handlers arrive with the
operator issue; `constants` fixes the names they will use.
"""
