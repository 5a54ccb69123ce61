"""The four PEM files the sandbox and its partner need (protocol spec §2: two RSA key pairs).

The sandbox plays Whalet, so it signs with ``whalet_private`` and encrypts to ``partner_public``;
the bot (or a test) plays the partner with the mirror pair. Keeping all four in one directory
lets the demo, tests and staging share them without any setup step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from whalet.envelope import EnvelopeCodec, generate_key_pair, load_private_key, load_public_key
from whalet.private_files import replace_private


@dataclass(frozen=True)
class SandboxKeys:
    """Paths of the four key files (PEM)."""

    dir: Path
    whalet_private: Path
    whalet_public: Path
    partner_private: Path
    partner_public: Path

    def whalet_codec(self) -> EnvelopeCodec:
        """Whalet's side: sign with Whalet's key, encrypt to the partner."""
        return EnvelopeCodec(
            load_private_key(self.whalet_private.read_bytes()), load_public_key(self.partner_public.read_bytes())
        )

    def partner_codec(self) -> EnvelopeCodec:
        """The partner's side: sign with the partner's key, encrypt to Whalet."""
        return EnvelopeCodec(
            load_private_key(self.partner_private.read_bytes()), load_public_key(self.whalet_public.read_bytes())
        )


def ensure_keys(keys_dir: Path) -> SandboxKeys:
    """Return the key paths, generating any missing pair (RSA-2048; slow, so only once)."""
    keys_dir = Path(keys_dir).expanduser()
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys = SandboxKeys(
        dir=keys_dir,
        whalet_private=keys_dir / "whalet_private.pem",
        whalet_public=keys_dir / "whalet_public.pem",
        partner_private=keys_dir / "partner_private.pem",
        partner_public=keys_dir / "partner_public.pem",
    )
    for private, public in ((keys.whalet_private, keys.whalet_public), (keys.partner_private, keys.partner_public)):
        if not (private.is_file() and public.is_file()):
            private_pem, public_pem = generate_key_pair()
            replace_private(private, private_pem)  # 0600 from its creation; a pair is replaced whole
            public.write_bytes(public_pem)
    return keys
