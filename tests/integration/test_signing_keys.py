"""`python -m shared.cli new-signing-key`, run as an operator runs it (tests/unit/test_signing_keys.py: the keys)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.security.signing_keys import AsymmetricAlgorithm, parse_signing_keys
from tests.support import ROOT
from tests.support.processes import run_cli


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_new_signing_key_prints_only_a_usable_key(algorithm: AsymmetricAlgorithm) -> None:
    """Nothing but the key on stdout, nothing on stderr; no settings needed (an operator's laptop)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = run_cli("new-signing-key", "--algorithm", algorithm, env=env)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert done.stdout.endswith("-----END PRIVATE KEY-----\n")
    keys = parse_signing_keys(done.stdout, algorithm)
    assert len(keys.keys) == 1 and not keys.has_development_key
    if algorithm == "RS256":
        assert isinstance(keys.signing.private_key, rsa.RSAPrivateKey) and keys.signing.private_key.key_size >= 3072
