"""The Whalet transport this deployment speaks: the policy file's profile with the environment's secrets.

``[whalet] protocol`` picks the profile, ``[whalet.legacy]`` / ``[whalet.v1]`` its recipe, and the
environment holds the credentials that profile needs (the RSA keys for legacy, the four v1
credentials for v1). A missing or unusable credential is a SettingsError that names the variable.
"""

from __future__ import annotations

from core.config import WhaletSection
from core.settings import Settings
from whalet.envelope import EnvelopeCodec
from whalet.transport import LegacyTransport, Transport, V1Transport


def build_transport(settings: Settings, whalet: WhaletSection, codec: EnvelopeCodec | None = None) -> Transport:
    """Raises SettingsError when the chosen profile's credentials are missing or unreadable.

    ``codec``: legacy keys already loaded (loading an RSA key is slow); the recipe is applied to it.
    """
    url = settings.gateway_url(whalet.protocol)
    if whalet.protocol == "v1":
        return V1Transport(
            url, settings.whalet_partner_id, settings.v1_credentials(), whalet.v1, amounts=whalet.amounts
        )
    if codec is not None:
        codec = codec.with_recipe(whalet.legacy)
    else:
        codec = EnvelopeCodec(settings.partner_private_key(), settings.whalet_public_key(), whalet.legacy)
    return LegacyTransport(url, settings.whalet_partner_id, codec, amounts=whalet.amounts)
