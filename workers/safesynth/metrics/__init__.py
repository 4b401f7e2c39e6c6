"""Quality and privacy metrics for a synthetic table, one metric per module.

Layering: pure statistics (`divergence`, `roc`, `intervals`, `distance`) at
the bottom; one class per metric above them (a name, a goal, bounds, one
`compute(ctx)`); `registry` lists the metrics; `scores` turns their 0–10
scores into the SQS and DPS composites; `evaluation` runs everything for the
evaluate stage and the `safesynth evaluate` command. The report templates see
only results.
"""
