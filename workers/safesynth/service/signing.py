"""Short-lived download links for run artifacts served by the one-machine jobs service.

A link carries the job id, the artifact key, an expiry time and an HMAC-SHA256
of the three under a secret drawn when the service starts (links die with the
process; on a cluster the same role is played by presigned S3 URLs). Pure
functions: the caller passes the time.
"""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: bytes, job_id: str, key: str, expires: int) -> str:
    """Hex HMAC of what a link grants: one key of one job until `expires` (Unix seconds)."""
    message = f"{job_id}\n{key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(secret: bytes, job_id: str, key: str, expires: int, sig: str, now: float) -> bool:
    """True when the link is genuine and not expired (constant-time comparison)."""
    return now <= expires and hmac.compare_digest(signature(secret, job_id, key, expires), sig)
