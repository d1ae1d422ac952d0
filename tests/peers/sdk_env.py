"""What both SDK suites' harnesses (tests/peers/sdk/ and tests/peers/sdk3/) read alike: the
environment tests/it/sdk.rs and tests/it/sdk3.rs set for the GitHub stand-in and the
oidc-provider's client, keyport's redaction mark, and the stand-in's record of requests.
Import it after `offline`, whose audit hook must come first.
"""

import os

from offline import get_json

GITHUB = os.environ["KEYPORT_SDK_GITHUB"]
GITHUB_TOKEN = os.environ["KEYPORT_SDK_GITHUB_TOKEN"]
IDP = os.environ["KEYPORT_SDK_IDP"]
CLIENT_ID = os.environ["KEYPORT_SDK_CLIENT_ID"]
CLIENT_SECRET = os.environ["KEYPORT_SDK_CLIENT_SECRET"]
REDACTED = "********"


def github_requests():
    """Every request the GitHub stand-in has seen."""
    return get_json(f"{GITHUB}/__requests")


def oidc_client():
    """The OAuth 2.0 configuration of the oidc-provider's client, as an integration or auth
    config takes it (consent asked every time, so each flow shows the consent page)."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorization_url": f"{IDP}/auth",
        "token_url": f"{IDP}/token",
        "revocation_url": f"{IDP}/token/revocation",
        "scopes": ["openid", "offline_access"],
        "authorization_params": {"prompt": "consent"},
    }
