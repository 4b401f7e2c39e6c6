"""The jobs API (`safesynth serve`): submit, watch, fetch and cancel SafeSynthJobs over HTTP.

Layout: `backend` (the interface both backends meet: a session per caller),
`records` (the job record and its SQLite table), `local` (the one-machine
backend: jobs run by the local driver in worker processes), `cluster` (each job
a SafeSynthJob, every call made as the caller by impersonation) over `kube`
(httpx to the API server), `app` (the FastAPI routes, one error shape),
`signing` (short-lived download links of the local backend). The client side
is `safesynth.client`. Routes live under `/v1beta1/safe-synthesizer/jobs`, the
reference product's prefix.
"""
