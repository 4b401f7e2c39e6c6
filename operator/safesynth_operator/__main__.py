"""`python -m safesynth_operator`: kopf with the namespaces and ports from the operator settings.

The same as `kopf run --standalone [--all-namespaces | -n NS ...] --liveness=...
--log-format=json -m safesynth_operator.handlers`, but driven by the settings
file the Helm chart mounts, so the chart has one place to say where to watch.
Standalone: one replica (the chart uses the Recreate strategy), no peering CRD.
"""

from __future__ import annotations

import logging
import os

import kopf

from safesynth import contract


def main() -> None:
    from safesynth_operator import handlers  # registers the handlers; reads the settings

    config = handlers.CONFIG
    log_format = kopf.LogFormat.JSON if os.environ.get("SAFESYNTH_LOG_FORMAT", "json") == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=os.environ.get(contract.DEBUG_ENV) == "1", log_format=log_format)
    # cel-python logs every evaluation at DEBUG; spec validation is not what one debugs here.
    logging.getLogger("celpy").setLevel(logging.WARNING)
    kopf.run(
        standalone=True,
        clusterwide=not config.watch_namespaces,
        namespaces=config.watch_namespaces,
        liveness_endpoint=f"http://0.0.0.0:{config.liveness_port}/healthz" if config.liveness_port else None,
    )


if __name__ == "__main__":
    main()
