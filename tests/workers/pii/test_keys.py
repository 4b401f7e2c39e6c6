"""Where the key comes from, and what is derived from it."""

from __future__ import annotations

import pytest

from safesynth.contract import PII_KEY_ENV as KEY_ENV
from safesynth.errors import BadInputError
from safesynth.pii.keys import KeyRing, resolve_key
from safesynth.spec.models import PiiSpec

KEY = "k" * 32


def test_key_from_environment_and_secret_ref() -> None:
    plain = resolve_key(PiiSpec(), {KEY_ENV: KEY})
    assert plain.key == KEY.encode() and plain.source == "environment"
    ref = PiiSpec.model_validate({"keySecretRef": {"name": "pii-key", "key": "hmac"}})
    assert resolve_key(ref, {KEY_ENV: KEY}).source == "secretRef"


def test_secret_ref_without_the_variable_is_an_input_error() -> None:
    ref = PiiSpec.model_validate({"keySecretRef": {"name": "pii-key", "key": "hmac"}})
    with pytest.raises(BadInputError) as info:
        resolve_key(ref, {})
    assert info.value.exit_code == 2 and KEY_ENV in str(info.value) and "pii-key" in str(info.value)


def test_short_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(BadInputError) as info:
        resolve_key(PiiSpec(), {KEY_ENV: "secret123"})
    assert "secret123" not in str(info.value)


def test_ephemeral_keys_differ_per_job() -> None:
    a, b = resolve_key(PiiSpec(), {}), resolve_key(PiiSpec(), {})
    assert a.source == b.source == "ephemeral" and a.key != b.key and len(a.key) == 32


def test_derivations_are_keyed_and_separated_by_purpose() -> None:
    k1, k2 = KeyRing(b"1" * 32, "environment"), KeyRing(b"2" * 32, "environment")
    assert k1.digest("hash", "x") == k1.digest("hash", "x") != k2.digest("hash", "x")
    assert k1.digest("hash", "x") != k1.digest("tokenize", "x")
    assert 0 <= k1.unit("u", "x") < 1 and k1.rng("r", "x").random() == k1.rng("r", "x").random()
    assert k1.fingerprint != k2.fingerprint and len(k1.fingerprint) == 12
    assert "1111" not in repr(k1)
