"""An OAuth 1.0a provider for keyport's tests, built on oauthlib's server-side endpoints,
so every signature keyport makes is checked by an independent implementation.

Config (argv[1], JSON):
  clients:       {consumer_key: {"secret": str, "rsa_public_key": PEM or absent}}
  access_tokens: {token: {"secret": str, "client": consumer_key}}  (pre-authorized)

Routes:
  POST /oauth/request_token   RequestTokenEndpoint (needs oauth_callback)
  GET  /oauth/authorize       the user approves at once: 302 to the callback with
                              oauth_token and oauth_verifier; query params are recorded
  POST /oauth/access_token    AccessTokenEndpoint (needs oauth_verifier)
  GET  /_stats                what was verified
  anything else               a protected resource: ResourceEndpoint verifies the request;
                              200 {"valid": true, ...} or 401 {"valid": false, ...}

Set KEYPORT_PEER_DEBUG=1 to see oauthlib's own log (it prints the base string it computed
when a signature does not verify).
"""

import logging
import os
import sys

from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)

from peer_http import config, serve

logging.basicConfig(stream=sys.stderr,
                    level=logging.DEBUG if os.environ.get("KEYPORT_PEER_DEBUG") else logging.WARNING)

CONFIG = config()
CLIENTS = CONFIG.get("clients", {})
ACCESS = dict(CONFIG.get("access_tokens", {}))
REQUEST_TOKENS = {}
SEEN_NONCES = set()
STATS = {"verified": 0, "rejected": 0, "requests": [], "authorize_queries": []}
DUMMY_RSA = next((c["rsa_public_key"] for c in CLIENTS.values() if c.get("rsa_public_key")), None)


class Validator(RequestValidator):
    enforce_ssl = False

    @property
    def allowed_signature_methods(self):
        return ("HMAC-SHA1", "HMAC-SHA256", "PLAINTEXT", "RSA-SHA1")

    @property
    def dummy_client(self):
        return "dummyclientkeydummyclient"

    @property
    def dummy_request_token(self):
        return "dummyrequesttokendummyreq"

    @property
    def dummy_access_token(self):
        return "dummyaccesstokendummyacce"

    def validate_client_key(self, client_key, request):
        return client_key in CLIENTS

    def get_client_secret(self, client_key, request):
        return CLIENTS.get(client_key, {}).get("secret", "dummy")

    def get_rsa_key(self, client_key, request):
        return CLIENTS.get(client_key, {}).get("rsa_public_key") or DUMMY_RSA

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        key = (client_key, timestamp, nonce, request_token, access_token)
        if key in SEEN_NONCES:
            return False
        SEEN_NONCES.add(key)
        return True

    def get_default_realms(self, client_key, request):
        return []

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return redirect_uri.startswith(("http://", "https://"))

    def save_request_token(self, token, request):
        REQUEST_TOKENS[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "client": request.client_key,
            "callback": request.redirect_uri,
        }

    def verify_request_token(self, token, request):
        return token in REQUEST_TOKENS

    def get_redirect_uri(self, token, request):
        return REQUEST_TOKENS[token]["callback"]

    def get_realms(self, token, request):
        return []

    def verify_realms(self, token, realms, request):
        return True

    def save_verifier(self, token, verifier, request):
        REQUEST_TOKENS[token]["verifier"] = verifier["oauth_verifier"]

    def validate_request_token(self, client_key, token, request):
        entry = REQUEST_TOKENS.get(token)
        return entry is not None and entry["client"] == client_key

    def get_request_token_secret(self, client_key, token, request):
        return REQUEST_TOKENS.get(token, {}).get("secret", "dummy")

    def validate_verifier(self, client_key, token, verifier, request):
        return REQUEST_TOKENS.get(token, {}).get("verifier") == verifier

    def invalidate_request_token(self, client_key, request_token, request):
        REQUEST_TOKENS.pop(request_token, None)

    def save_access_token(self, token, request):
        ACCESS[token["oauth_token"]] = {"secret": token["oauth_token_secret"], "client": request.client_key}

    def validate_access_token(self, client_key, token, request):
        entry = ACCESS.get(token)
        return entry is not None and entry["client"] == client_key

    def get_access_token_secret(self, client_key, token, request):
        return ACCESS.get(token, {}).get("secret", "dummy")

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True


VALIDATOR = Validator()
REQUEST_TOKEN = RequestTokenEndpoint(VALIDATOR)
AUTHORIZE = AuthorizationEndpoint(VALIDATOR)
ACCESS_TOKEN = AccessTokenEndpoint(VALIDATOR)
RESOURCE = ResourceEndpoint(VALIDATOR)


def body_text(request):
    return request.body.decode("utf-8") if request.body else ""


def handle(request):
    if request.route == "/_stats":
        return 200, {}, STATS
    if request.route == "/oauth/request_token":
        headers, body, status = REQUEST_TOKEN.create_request_token_response(
            request.uri(), request.method, body_text(request), request.headers)
        STATS["requests"].append({"route": request.route, "status": status})
        return status, headers, body
    if request.route == "/oauth/authorize":
        STATS["authorize_queries"].append(request.query)
        headers, body, status = AUTHORIZE.create_authorization_response(request.uri(), "GET")
        return status, headers, body or ""
    if request.route == "/oauth/access_token":
        headers, body, status = ACCESS_TOKEN.create_access_token_response(
            request.uri(), request.method, body_text(request), request.headers)
        STATS["requests"].append({"route": request.route, "status": status})
        return status, headers, body
    valid, checked = RESOURCE.validate_protected_resource_request(
        request.uri(), request.method, body_text(request), request.headers)
    STATS["verified" if valid else "rejected"] += 1
    result = {
        "valid": valid,
        "method": request.method,
        "route": request.route,
        "host": request.headers.get("Host"),
        "signature_method": getattr(checked, "signature_method", None),
        "params": sorted([k, v] for k, v in (getattr(checked, "params", None) or [])
                         if not k.startswith("oauth_")),
        "log": getattr(checked, "validator_log", {}),
    }
    STATS["requests"].append(result)
    return (200 if valid else 401), {}, result


serve(handle)
