"""The Composio documentation's Python snippets (the seed documents in shared/seeds/), run
unchanged with the real Composio SDK (composio-core 0.7.22, composio-openai 0.7.20) against
keyport. Started by tests/it/sdk.rs, which sets:

    COMPOSIO_BASE_URL, COMPOSIO_API_KEY (a `use` key), COMPOSIO_DISABLE_VERSION_CHECK,
    COMPOSIO_CACHE_DIR, HOME                      the SDK's own settings
    KEYPORT_SDK_REVEAL_KEY                        a `reveal` key, to read live headers
    KEYPORT_SDK_GITHUB, KEYPORT_SDK_GITHUB_TOKEN  the GitHub stand-in and the token it accepts
    KEYPORT_SDK_IDP, KEYPORT_SDK_CLIENT_ID, KEYPORT_SDK_CLIENT_SECRET
                                                  the oidc-provider peer and its client

Each snippet is copied from its seed document (named in a comment) and followed by checks
of what keyport answered. Lines that fail on every backend with this SDK version (the wire
notes' section e.4, shared/research/composio-sdk-wire.md) are replaced by their working
equivalent, each with a comment saying why. Placeholders the documents leave to the reader
(GMAIL_INTEGRATION_ID, YOUR_INTEGRATION_ID, `params={...}`) are filled in.

Output: one `ok: ...` line per checked snippet (`FAIL: ...` with a traceback otherwise), the
OAuth step's `Navigate to URL ...` line (the test drives Chromium through it), a
`network: N connection attempts, all loopback` line from an audit hook that sees every
socket the SDK opens, and a final `N passed, M failed` line. Exit 0 only if all passed.

The snippets are grouped by seed document, one module each, imported here in order (each
check runs as it is defined); `harness` comes first.
"""

import harness  # noqa: F401 - first: the audit hook must see composio's import

import seed_integrations  # noqa: E402, F401
import seed_connections  # noqa: E402, F401
import seed_entities  # noqa: E402, F401
import seed_lifecycle  # noqa: E402, F401
import sdk_edges  # noqa: E402, F401
