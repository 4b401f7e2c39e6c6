"""Run the Argo CD health check for SafeSynthJob (examples/gitops/argocd/safesynthjob-health.lua).

Argo CD runs health scripts in gopher-lua, a Lua 5.1 implementation, with the
resource as the global `obj` (JSON objects as tables, arrays as 1-based
sequences) and reads `status` and `message` from the table the script returns.
lupa's Lua 5.1 runtime does the same here.
"""

from __future__ import annotations

from typing import Any

from lupa import lua51

from tests.helm.chart import REPO

SCRIPT_PATH = REPO / "examples" / "gitops" / "argocd" / "safesynthjob-health.lua"
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) the script gives for a SafeSynthJob object."""
    lua = lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT_PATH.read_text())
    status, message = result["status"], result["message"]
    assert status in ARGO_STATUSES, status
    assert isinstance(message, str) and message, "Argo CD shows the message next to the status"
    return status, message
