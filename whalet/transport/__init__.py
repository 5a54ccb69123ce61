"""The seam between the client and the wire: one ``Transport`` per Whalet protocol profile.

``WhaletClient`` (operations, retries, error branches, models) sits above this seam and is the
same for both profiles; below it, ``LegacyTransport`` speaks the RSA envelope of spec §2 and
``V1Transport`` the REST v1 protocol of spec §9. Each also opens and answers the webhook in its
own shape, so the inbox, de-duplication and relay after it are shared.
"""

from whalet.transport.base import Poster, Transport, write_amounts
from whalet.transport.legacy import LegacyTransport
from whalet.transport.v1 import V1Credentials, V1Transport

__all__ = ["LegacyTransport", "Poster", "Transport", "V1Credentials", "V1Transport", "write_amounts"]
