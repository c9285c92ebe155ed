# SPDX-License-Identifier: MIT
"""Keys and tokens for the auth suites (test_auth.py, test_auth_jwks.py):
one key of each kind sluice verifies, made with python3-cryptography, and
tokens signed with python3-jwt (PyJWT), which shares nothing with sluice's
code. A module of its own so that a suite importing it registers no other
suite's tests."""

import base64
import json
import time

from sltest import Skip

try:
    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    HAVE_JWT = True
except ImportError:  # the suite says so, test by test
    HAVE_JWT = False
    pyjwt = serialization = ec = ed25519 = rsa = None

__all__ = ["AUD", "ISS", "Keys", "b64u", "bearer", "claims", "ec",
           "need_jwt", "pyjwt", "rsa", "serialization"]

ISS = "https://id.example.test"
AUD = "payments"


def need_jwt():
    if not HAVE_JWT:
        raise Skip("python3-jwt and python3-cryptography are needed "
                   "(apt-get install python3-jwt python3-cryptography)")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Keys:
    """One key of each kind sluice takes, their private halves kept."""

    def __init__(self):
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ec384 = ec.generate_private_key(ec.SECP384R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        self.ed = ed25519.Ed25519PrivateKey.generate()

    def jwks(self, kids=("ec1", "ec384", "rsa1", "ed1"), extra=()):
        out = []
        algs = pyjwt.algorithms
        for kid in kids:
            if kid.startswith("ec384"):
                j = algs.ECAlgorithm.to_jwk(self.ec384.public_key())
            elif kid.startswith("ec"):
                j = algs.ECAlgorithm.to_jwk(self.ec.public_key())
            elif kid.startswith("rsa"):
                j = algs.RSAAlgorithm.to_jwk(self.rsa.public_key())
            else:
                j = algs.OKPAlgorithm.to_jwk(self.ed.public_key())
            d = json.loads(j)
            d["kid"] = kid
            d["use"] = "sig"
            out.append(d)
        out.extend(extra)
        return {"keys": out}

    def sign(self, alg, claims, kid=None, headers=None):
        key = {"ES256": self.ec, "ES384": self.ec384, "RS256": self.rsa,
               "RS512": self.rsa, "PS256": self.rsa,
               "EdDSA": self.ed}[alg]
        if kid is None:
            kid = {"ES256": "ec1", "ES384": "ec384", "EdDSA": "ed1"}.get(
                alg, "rsa1")
        h = dict(headers or {})
        if kid:
            h["kid"] = kid
        return pyjwt.encode(claims, key, algorithm=alg, headers=h)


def claims(**kw):
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "sub": "user-42", "exp": now + 300,
         "iat": now, "scope": "payments:read payments:write"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


