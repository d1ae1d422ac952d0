"""A stand-in for Google's OAuth 2.0 token endpoint for service accounts (RFC 7523 JWT
bearer grant). PyJWT verifies each assertion: RS256 signature with the account's public key,
`aud` = this token URL, `iss` = the client email, the expected `scope` and `sub`, the key id,
and `exp` - `iat` = 3600 with `iat` close to the peer's clock.

Config (argv[1], JSON): public_key (PEM), client_email, kid, scope, subject (or null),
expires_in (default 3600), token_delay (seconds, default 0).

Routes:
  POST /token     the exchange; 200 {"access_token", "expires_in", "token_type"} or
                  400 {"error": "invalid_grant", ...}
  POST /_control  {"advance": seconds} moves the peer's clock; {"revoked": true} refuses
                  every later assertion; {"expires_in": n}
  GET  /_stats    {"token_requests": n, "failures": [reasons]}
  anything else   an API: 200 when the bearer token is one this peer issued, else 401
"""

import secrets
import time
from urllib.parse import parse_qs

import jwt

from peer_http import config, serve

CONFIG = config()
STATE = {
    "offset": 0,
    "revoked": False,
    "expires_in": CONFIG.get("expires_in", 3600),
    "token_requests": 0,
    "failures": [],
    "issued": [],
}
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def now():
    return time.time() + STATE["offset"]


def refuse(reason):
    STATE["failures"].append(reason)
    return 400, {}, {"error": "invalid_grant", "error_description": reason}


def token(request):
    STATE["token_requests"] += 1
    time.sleep(CONFIG.get("token_delay", 0))
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    if request.headers.get("Content-Type") != "application/x-www-form-urlencoded":
        return refuse("not a form body")
    if form.get("grant_type") != GRANT:
        return 400, {}, {"error": "unsupported_grant_type"}
    if STATE["revoked"]:
        return refuse("Invalid JWT Signature.")
    assertion = form.get("assertion", "")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(
            assertion,
            CONFIG["public_key"],
            algorithms=["RS256"],
            audience=request.uri(),
            issuer=CONFIG["client_email"],
            options={"require": ["iss", "aud", "iat", "exp", "scope"],
                     "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as error:
        return refuse("assertion rejected by PyJWT: %s" % error)
    if header.get("kid") != CONFIG.get("kid") or header.get("typ") != "JWT":
        return refuse("wrong header %r" % header)
    if claims["exp"] - claims["iat"] != 3600:
        return refuse("exp - iat is %s" % (claims["exp"] - claims["iat"]))
    if abs(claims["iat"] - now()) > 60:
        return refuse("iat is %.0f s away from now" % (claims["iat"] - now()))
    if claims["scope"] != CONFIG["scope"]:
        return refuse("scope %r" % claims["scope"])
    if claims.get("sub") != CONFIG.get("subject"):
        return refuse("sub %r" % claims.get("sub"))
    access = "ya29." + secrets.token_urlsafe(24)
    STATE["issued"].append(access)
    return 200, {}, {"access_token": access, "expires_in": STATE["expires_in"], "token_type": "Bearer"}


def handle(request):
    if request.route == "/token" and request.method == "POST":
        return token(request)
    if request.route == "/_stats":
        return 200, {}, {k: STATE[k] for k in ("token_requests", "failures", "issued")}
    presented = request.headers.get("Authorization", "")
    if presented.startswith("Bearer ") and presented[7:] in STATE["issued"]:
        return 200, {}, {"ok": True, "token_index": STATE["issued"].index(presented[7:])}
    return 401, {}, {"error": "invalid_token"}


serve(handle, clock=STATE)
