"""Core tables owned by the bot process: the audit log and a small key/value table for flags.

Format (shared by every provider module, see bot.store): ``MIGRATIONS`` is a list of
``(name, statements)``; names are unique across all providers and applied once each in sorted
order, so prefix them with a number and the area (``0001_core_...``, ``0100_commands_...``).
Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "0001_core_audit_log",
        [
            """
            CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                subject TEXT NOT NULL DEFAULT '',
                fingerprint TEXT NOT NULL DEFAULT '',
                detail TEXT NOT NULL DEFAULT ''
            )
            """,
            "CREATE INDEX audit_log_subject ON audit_log(subject, id)",
            # Append-only at the database level: a bug or a hand-typed SQL fix cannot rewrite
            # who approved what.
            """
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
            """,
            """
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
            """,
        ],
    ),
    (
        "0002_core_kv",
        ["CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
    ),
]
