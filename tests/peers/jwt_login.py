"""A stand-in for a BASIC_WITH_JWT provider (Docker Hub's login is the model): a username
and password POSTed as JSON are exchanged for an HS256 JWT whose `exp` claim is the only
statement of its lifetime. PyJWT issues and checks the tokens.

Config (argv[1], JSON): username, password, lifetime (seconds), key (HS256 secret),
field ("token", "access_token" or "jwt"; default "token"), token_delay (seconds).

Routes:
  POST /login     200 {field: jwt} or 401 {"detail": "Incorrect authentication credentials"}
  POST /_control  {"advance": seconds} moves the peer's clock; {"password": new} changes it
  GET  /_stats    {"logins": n, "issued": [...]}
  anything else   an API: 200 when the bearer JWT verifies and has not expired, else 401
"""

import time

import jwt

from peer_http import config, serve

CONFIG = config()
STATE = {"offset": 0, "password": CONFIG["password"], "logins": 0, "issued": []}


def now():
    return int(time.time() + STATE["offset"])


def login(request):
    STATE["logins"] += 1
    time.sleep(CONFIG.get("token_delay", 0))
    body = request.json() or {}
    if request.headers.get("Content-Type") != "application/json":
        return 400, {}, {"detail": "expected JSON"}
    if body.get("username") != CONFIG["username"] or body.get("password") != STATE["password"]:
        return 401, {}, {"detail": "Incorrect authentication credentials"}
    issued_at = now()
    token = jwt.encode({"sub": CONFIG["username"], "iat": issued_at,
                        "exp": issued_at + CONFIG["lifetime"], "n": len(STATE["issued"])},
                       CONFIG["key"], algorithm="HS256")
    STATE["issued"].append(token)
    return 200, {}, {CONFIG.get("field", "token"): token}


def api(request):
    presented = request.headers.get("Authorization", "")
    if not presented.startswith("Bearer "):
        return 401, {}, {"detail": "no bearer token"}
    try:
        claims = jwt.decode(presented[7:], CONFIG["key"], algorithms=["HS256"],
                            options={"verify_exp": False, "verify_iat": False})
    except jwt.PyJWTError as error:
        return 401, {}, {"detail": str(error)}
    if claims["exp"] <= now():
        return 401, {}, {"detail": "token expired"}
    return 200, {}, {"ok": True, "n": claims["n"]}


def handle(request):
    if request.route == "/login" and request.method == "POST":
        return login(request)
    if request.route == "/_stats":
        return 200, {}, {"logins": STATE["logins"], "issued": len(STATE["issued"])}
    return api(request)


serve(handle, clock=STATE)
