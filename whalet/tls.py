"""One TLS context per process for every HTTP client we build.

Building one means parsing the whole CA bundle (about 30 ms of CPU each time). A process makes
many clients (the Whalet client's pools, the sandbox's notifier, the dev kit's and the tests'
clients), and a context only holds settings and the trusted roots, so they can all share one:
``ssl.SSLContext`` is safe to use from several threads and event loops at once.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_tls() -> ssl.SSLContext:
    """httpx's default verification (certifi's roots, hostname checks), built once."""
    return httpx.create_ssl_context()
