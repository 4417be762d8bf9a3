"""The network policy for outgoing HTTP, shared by the flow engine's ``rest``
node and the webhook sender: the SSRF guard (``ssrf.py``: every address a
host resolves to checked, the connection pinned to the checked address) and
the HTTP client built on it (``http_client.py``: no proxies from the
environment, no pooled connections, redirects followed by hand and checked
again, bodies read within a limit). Knows nothing of flows, jobs or webhooks.
"""
