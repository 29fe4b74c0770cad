"""Mint HS256 JWT access tokens for the gateway's `[mcp.oauth]` tests (stdlib only).

The gateway reads `hs256_secret` as the secret's bytes as written (UTF-8, not
base64) and requires at least 32 of them. A token it accepts needs `iss` in
`authorization_servers`, `aud` naming `resource`, `exp`, and `sub` or
`client_id`; `scope` (space-separated) must hold `required_scope` if one is set.
"""

import base64
import hashlib
import hmac
import json
import time


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(secret, claims, header=None) -> str:
    """A compact HS256 JWS over `claims` (a dict). `secret` is str or bytes;
    `header` overrides the default `{"alg": "HS256", "typ": "JWT"}` (for
    tests of refused tokens: another `alg`, a `kid`, `crit`)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    head = {"alg": "HS256", "typ": "JWT"} if header is None else header
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (head, claims)
    )
    tag = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(tag)}"


def claims_for(issuer, resource, scope=None, subject="mcp-test-user", ttl_s=300, **extra):
    """Claims the gateway accepts now: the usual fields filled in."""
    now = int(time.time())
    claims = {"iss": issuer, "aud": resource, "sub": subject, "iat": now, "exp": now + ttl_s}
    if scope is not None:
        claims["scope"] = scope
    claims.update(extra)
    return claims
