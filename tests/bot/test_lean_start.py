"""What a bot on SQLite loads at start: not the Postgres driver, not PyYAML, not the dev kit.

A fresh interpreter imports everything `whalet-bot run` wires (the CLI, every feature through
``bot.wiring``) and opens the SQLite store exactly as ``build_services`` does; the modules it
must not have loaded are read off ``sys.modules``. psycopg arrives only with a Postgres URL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from pathlib import Path
import bot.cli, bot.wiring
from core.storage.backend import open_store
store = open_store(None, Path(sys.argv[1]))
store.close()
roots = sorted({name.split('.')[0] for name in sys.modules})
print(json.dumps(roots))
"""


def test_a_sqlite_bot_loads_neither_psycopg_nor_yaml_nor_the_dev_kit(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "bot.db")], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "bot" in loaded and "core" in loaded  # the probe did import the app
    assert not loaded & {"psycopg", "psycopg_pool", "yaml", "devkit"}, sorted(loaded)
