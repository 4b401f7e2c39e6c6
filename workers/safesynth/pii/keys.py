"""The job's secret key: every keyed replacement (hash, fake, tokenize, dateShift, ...) derives from it.

Where the key comes from, in order:

1. the environment variable `SAFESYNTH_PII_KEY` (`contract.PII_KEY_ENV`). On Kubernetes the
   operator fills it from `spec.pii.keySecretRef` (`valueFrom.secretKeyRef`
   with that Secret's name and key), so the key never appears in the spec,
   a ConfigMap, the artifacts or a log. Locally, export it yourself;
2. otherwise, when `spec.pii.keySecretRef` is set, the job fails (exit 2): the
   spec promised a stable key and silently using another would break
   cross-job consistency;
3. otherwise a fresh random 256-bit key for this job only, held in memory and
   never written out.

Consequences, stated in the docs: with a key (1), the same input value maps to
the same replacement in every job that uses that key, and a re-run of the same
spec reproduces pii/* exactly. With a per-job key (3) replacements are
consistent within the job only, and a re-run produces different (equally
valid) replacements: reproducibility across runs needs a key. The job seed
(`spec.data.seed`) does not enter the derivation, so jobs with different
seeds but one key still agree.

Derivation: HMAC-SHA256(key, purpose ‖ 0x1f ‖ value) (RFC 2104), one
`purpose` per use ("hash", "tokenize", "first-name", ...) so outputs for
different uses are independent. The report carries a fingerprint of the key
(HMAC of a fixed label, 12 hex digits) so two jobs can be checked for using the
same key without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from safesynth.contract import PII_KEY_ENV
from safesynth.errors import BadInputError
from safesynth.spec.models import PiiSpec

KEY_ENV = PII_KEY_ENV  # the stage contract's name, under the name older callers import
# Shortest key accepted from the environment, in characters (a 16-character random key has ≥ 80 bits).
MIN_KEY_CHARS = 16
_SEP = b"\x1f"


@dataclass(frozen=True)
class KeyRing:
    """The key and the source it came from; derives per-purpose digests and seeded generators."""

    key: bytes = field(repr=False)
    source: str  # "environment", "secretRef" or "ephemeral"

    def digest(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.key, purpose.encode() + _SEP + value.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()

    def hexdigest(self, purpose: str, value: str) -> str:
        return self.digest(purpose, value).hex()

    def integer(self, purpose: str, value: str) -> int:
        """A 128-bit integer derived from (purpose, value)."""
        return int.from_bytes(self.digest(purpose, value)[:16], "big")

    def unit(self, purpose: str, value: str) -> float:
        """A number in [0, 1) derived from (purpose, value): 53 bits, like random.random()."""
        return (int.from_bytes(self.digest(purpose, value)[:8], "big") >> 11) / float(1 << 53)

    def rng(self, purpose: str, value: str) -> random.Random:
        """A generator seeded from (purpose, value), for drawing several choices for one value."""
        return random.Random(self.integer(purpose, value))

    @property
    def fingerprint(self) -> str:
        return self.hexdigest("fingerprint", "safesynth")[:12]


def resolve_key(pii: PiiSpec, environ: Mapping[str, str]) -> KeyRing:
    """The key for this job, by the rules in the module docstring. `environ` is os.environ in a pod."""
    raw = environ.get(KEY_ENV, "")
    if raw:
        if len(raw) < MIN_KEY_CHARS:
            raise BadInputError(
                f"the PII key in ${KEY_ENV} is {len(raw)} characters long; use at least {MIN_KEY_CHARS} "
                "random characters (e.g. `openssl rand -hex 32`)"
            )
        return KeyRing(raw.encode("utf-8"), "secretRef" if pii.key_secret_ref is not None else "environment")
    if pii.key_secret_ref is not None:
        ref = pii.key_secret_ref
        raise BadInputError(
            f"spec.pii.keySecretRef names Secret {ref.name!r} key {ref.key!r}, but ${KEY_ENV} is not set; "
            f"on Kubernetes the operator sets it from that Secret (check that the Secret and key exist); "
            f"locally, export {KEY_ENV}"
        )
    return KeyRing(secrets.token_bytes(32), "ephemeral")
