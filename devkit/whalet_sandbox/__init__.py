"""A faithful, stateful imitation of Whalet's gateway for tests, the demo and staging.

It stands alone on ``whalet.envelope`` and ``whalet.money`` (never the client package), so a
misreading of the spec in the client cannot be mirrored here. See README.md.
"""

from .app import Sandbox, create_sandbox
from .cli import run_sandbox
from .config import SandboxConfig
from .keys import SandboxKeys, ensure_keys
from .v1_recipe import V1Credentials, ensure_v1_credentials

__all__ = [
    "Sandbox",
    "SandboxConfig",
    "SandboxKeys",
    "V1Credentials",
    "create_sandbox",
    "ensure_keys",
    "ensure_v1_credentials",
    "run_sandbox",
]
