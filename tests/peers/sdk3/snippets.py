"""keyport as the backend of the current Composio Python SDK (`composio` 0.30.0, v3.1 API):
auth configs, connected accounts (API key, OAuth 2.0 through the real oidc-provider and
Chromium, link), lists with filters and cursors, toolkits, tools, the proxy and the SDK's
typed errors. Run by tests/it/sdk3.rs; each check prints `ok: …` or `FAIL: …`, and the
harness prints the network tally and the totals last.
"""

import harness  # noqa: F401  (first: its audit hook must see the SDK's import)
import accounts  # noqa: F401,E402
import tools  # noqa: F401,E402
