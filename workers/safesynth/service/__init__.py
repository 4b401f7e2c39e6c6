"""The jobs API (`safesynth serve`): submit, watch, fetch and cancel SafeSynthJobs over HTTP.

Layout: `records` (the job record and its SQLite table), `local` (the one-machine
backend: jobs run by the local driver in worker processes), `app` (the FastAPI
routes, one error shape), `signing` (short-lived download links). The client side
is `safesynth.client`. Routes live under `/v1beta1/safe-synthesizer/jobs`, the
reference product's prefix.
"""
