"""``whalet-bot manifest --url https://host``: the Slack app manifest with this deployment's URLs.

``app_manifest.yml`` (repo root) is the one manifest; its URLs use the placeholder host
``https://whalet-bot.example.com``. Rather than keep a second copy as a Python string, this reads
that file and swaps the placeholder for the real base URL, so pasting the output into Slack's
"Create app from manifest" can never drift from the reviewed file.

Where the file is found, in order: ``--file``; next to the source tree (a checkout or an
editable install); inside the package (wheel installs). ``bot/app_manifest.yml`` is a symlink
to the root file, not a copy: pyproject's ``*.yml`` package-data rule makes setuptools ship the
target's content in the wheel, and there is nothing to keep in sync.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

PLACEHOLDER = "https://whalet-bot.example.com"
MANIFEST_NAME = "app_manifest.yml"
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class ManifestError(ValueError):
    """The URL or the manifest file cannot be used; the message says which and why."""


def validate_base_url(url: str, *, allow_http: bool = False) -> str:
    """The base URL without a trailing slash; Slack only calls https URLs in production."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ManifestError(f"'{url}' is not a URL like https://bot.example.org")
    if parts.scheme == "http" and not allow_http:
        raise ManifestError(
            f"'{url}' is http: Slack requires https for request URLs (use --allow-http only for a local tunnel test)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ManifestError(f"'{url}' must be a plain base URL: no query, fragment or credentials")
    if not _HOST.match(parts.netloc):
        raise ManifestError(f"'{parts.netloc}' is not a host name")
    return url.rstrip("/")


def locate_manifest(explicit: Path | None = None) -> str:
    """The manifest text (see the module docstring for the search order)."""
    if explicit is not None:
        try:
            return explicit.read_text(encoding="utf-8")
        except OSError as exc:
            raise ManifestError(f"cannot read {explicit}: {exc.strerror or exc}") from None
    beside_source = Path(__file__).resolve().parent.parent / MANIFEST_NAME
    if beside_source.is_file():
        return beside_source.read_text(encoding="utf-8")
    packaged = resources.files("bot").joinpath(MANIFEST_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    raise ManifestError(f"{MANIFEST_NAME} not found next to the source or in the package; give it with --file PATH")


def render_manifest(url: str, *, allow_http: bool = False, text: str | None = None, source: Path | None = None) -> str:
    """The manifest with every placeholder URL pointing at ``url``.

    Comment lines are left alone (they explain the placeholder); a first comment line records
    which URL was filled in, so a pasted manifest says where it came from.
    """
    base = validate_base_url(url, allow_http=allow_http)
    text = locate_manifest(source) if text is None else text
    lines = text.splitlines(keepends=True)
    filled = [line if line.lstrip().startswith("#") else line.replace(PLACEHOLDER, base) for line in lines]
    if filled == lines:
        raise ManifestError(f"the manifest has no {PLACEHOLDER} placeholder to replace; is it already filled in?")
    return f"# Request URLs filled in for {base} by `whalet-bot manifest`.\n" + "".join(filled)
