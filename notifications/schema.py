"""Tables of the notifications package (see bot.store for the migration format).

The outbox's own tables are defined next to its code (``notifications.outbox``) and collected
through this module, because ``bot.store`` asks one provider per package.

- ``inbox``: every verified notification, stored BEFORE Whalet gets its ack. ``request_no`` is
  unique (Whalet retries with the same requestNo) and so is ``content_hash``, the SHA-256 of the
  apiCode and the canonical business body (the same event re-sent under a new requestNo).
  ``processed_at`` stays NULL until the relay turned the row into outbox rows, in the same
  transaction. (Until 0301 the second key was apiCode:business id:status, which swallowed new
  content for a known object; rows stored before 0301 have no content hash.)
- ``replenish_todos``: EDD / trade documents requests as to-dos: OPEN -> TAKEN -> CLOSED.
- ``digest_runs``: one row per (schedule, local date) so a restart neither skips nor repeats.
- ``digest_schedules``: schedules added with `/whalet digest schedule` (the config file's live
  in the config file).
- ``digest_known``: when each schedule (config or Slack) was first seen, so catch-up never runs
  a fire time from before the schedule existed (a fresh install at 09:30 does not post "09:00").
- ``balance_snapshots``: balances as each digest saw them, for "change since the last digest".
"""

from __future__ import annotations

from notifications.outbox import MIGRATIONS as OUTBOX_MIGRATIONS

MIGRATIONS: list[tuple[str, list[str]]] = [
    *OUTBOX_MIGRATIONS,
    (
        "0300_notifications_0001",
        [
            """CREATE TABLE inbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                request_no TEXT NOT NULL UNIQUE,
                api_code TEXT NOT NULL,
                partner_id TEXT,
                business_id TEXT,
                status TEXT,
                dedupe_key TEXT UNIQUE,
                body TEXT NOT NULL,
                received_at TEXT NOT NULL,
                correlation_id TEXT NOT NULL,
                processed_at TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                outcome TEXT
            )""",
            "CREATE INDEX inbox_pending ON inbox(id) WHERE processed_at IS NULL",
            "CREATE INDEX inbox_kind_time ON inbox(api_code, received_at)",
            """CREATE TABLE replenish_todos (
                replenish_id TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('edd', 'trade')),
                api_code TEXT,
                user_id TEXT,
                trade_id TEXT,
                trade_type TEXT,
                reason TEXT,
                materials TEXT NOT NULL DEFAULT '[]',
                deadline TEXT,
                state TEXT NOT NULL CHECK (state IN ('OPEN', 'TAKEN', 'CLOSED')),
                owner TEXT,
                taken_at TEXT,
                result TEXT,
                remark TEXT,
                closed_at TEXT,
                reminded_at TEXT,
                card_channel TEXT,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX replenish_open ON replenish_todos(state, deadline)",
            """CREATE TABLE digest_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                schedule_key TEXT NOT NULL,
                run_date TEXT NOT NULL,
                channel TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('running', 'done')),
                attempts INTEGER NOT NULL DEFAULT 1,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                outbox_id INTEGER,
                UNIQUE (schedule_key, run_date)
            )""",
            """CREATE TABLE digest_schedules (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                channel TEXT NOT NULL,
                time TEXT NOT NULL,
                timezone TEXT NOT NULL,
                created_by TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (channel, time, timezone)
            )""",
            """CREATE TABLE digest_known (
                schedule_key TEXT PRIMARY KEY,
                first_seen TEXT NOT NULL
            )""",
            """CREATE TABLE balance_snapshots (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                digest_run_id INTEGER NOT NULL,
                channel TEXT NOT NULL,
                taken_at TEXT NOT NULL,
                user_id TEXT NOT NULL,
                fund_source TEXT NOT NULL,
                currency TEXT NOT NULL,
                available TEXT NOT NULL,
                pending TEXT NOT NULL,
                frozen TEXT NOT NULL
            )""",
            "CREATE INDEX balance_snapshots_prev ON balance_snapshots(channel, user_id, fund_source, currency, id)",
        ],
    ),
    (
        # SQLite cannot drop a UNIQUE constraint in place: the table is rebuilt, in the one
        # transaction the migration runs in.
        "0301_notifications_inbox_content_dedupe",
        [
            """CREATE TABLE inbox_0301 (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                request_no TEXT NOT NULL UNIQUE,
                api_code TEXT NOT NULL,
                partner_id TEXT,
                business_id TEXT,
                status TEXT,
                content_hash TEXT UNIQUE,
                body TEXT NOT NULL,
                received_at TEXT NOT NULL,
                correlation_id TEXT NOT NULL,
                processed_at TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                outcome TEXT
            )""",
            """INSERT INTO inbox_0301 (id, request_no, api_code, partner_id, business_id, status, body, received_at,
                   correlation_id, processed_at, attempts, last_error, outcome)
               SELECT id, request_no, api_code, partner_id, business_id, status, body, received_at,
                   correlation_id, processed_at, attempts, last_error, outcome FROM inbox""",
            "DROP TABLE inbox",
            "ALTER TABLE inbox_0301 RENAME TO inbox",
            "CREATE INDEX inbox_pending ON inbox(id) WHERE processed_at IS NULL",
            "CREATE INDEX inbox_kind_time ON inbox(api_code, received_at)",
            "CREATE INDEX inbox_business ON inbox(api_code, business_id, id)",
        ],
    ),
]
