"""The stand-in's manifest reader (standard library only) agrees with PyYAML.

PyYAML is a test dependency, not a runtime one; this is where the two are compared: on the shipped
``app_manifest.yml`` and on the other ways a person may write the same scope list.
"""

from __future__ import annotations

import pytest
import yaml

from bot.manifest import locate_manifest
from devkit.slack_standin.manifest_scopes import scopes_in

VARIANTS = {
    "items indented under the key": """
oauth_config:
  redirect_urls: []
  scopes:
    user: [search:read]
    bot:
      - commands  # the slash command
      # a comment line between items
      - "chat:write"
      - 'files:write'
  token_rotation: false
settings:
  bot:
    - not:a:scope
""",
    "items at the key's indent": """
oauth_config:
  scopes:
    bot:
    - commands
    - chat:write
settings: {}
""",
    "flow style": """
oauth_config:
  scopes:
    bot: [commands, "im:write"]
""",
    "no bot scopes": """
display_information:
  name: x
oauth_config:
  scopes:
    user:
      - search:read
""",
}


def _by_yaml(text: str) -> frozenset[str]:
    manifest = yaml.safe_load(text)
    return frozenset(((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])


def test_the_shipped_manifest_reads_the_same_as_with_pyyaml() -> None:
    text = locate_manifest()
    assert scopes_in(text) == _by_yaml(text)
    assert {"commands", "chat:write"} <= scopes_in(text)


@pytest.mark.parametrize("text", VARIANTS.values(), ids=list(VARIANTS))
def test_each_way_of_writing_the_list_reads_the_same_as_with_pyyaml(text: str) -> None:
    assert scopes_in(text) == _by_yaml(text)
