"""Every table of the bot, as the ordered list of migrations that builds it.

One explicit list (no modules looked up by name): ``Store`` applies each migration once, in
this order, in one transaction together with its row in ``schema_migrations``. A migration is
``(name, statements)``; names are unique and sorted, prefixed with a number and the area that
owns the tables (``0001_core_...``, ``0100_commands_...``). Never edit a migration that has
shipped: append a new one. The queries on these tables live in the repository module of each
table family next to this file.

- ``audit_log`` (append-only, enforced by triggers) and ``kv`` (flags such as the freeze).
- ``approval_requests``/``approvals``: amounts are TEXT holding exact decimals (never REAL);
  every state change of a request is a compare-and-set on (id, state, version), and
  ``approvals`` has one row per (request, approver), so the same person never counts twice.
- ``beneficiary_book``: beneficiaries added through Slack.
- ``inbox``: every verified notification, stored BEFORE Whalet gets its ack. ``request_no`` is
  unique (Whalet retries with the same requestNo) and so is ``content_hash``, the SHA-256 of the
  apiCode and the canonical business body (the same event re-sent under a new requestNo).
  ``processed_at`` stays NULL until the relay turned the row into outbox rows, in the same
  transaction. (Until 0301 the second key was apiCode:business id:status, which swallowed new
  content for a known object; rows stored before 0301 have no content hash.)
- ``replenish_todos``: EDD / trade documents requests as to-dos: OPEN -> TAKEN -> CLOSED, with
  ``docs`` for the documents sent from Slack; ``replenish_submissions``: one row per sending
  (unique per to-do and round, and per modal: a double submit sends once), its files' names,
  sizes and SHA-256, Whalet's answer and decision.
- ``trade_order_bindings``: trade orders bound to B2B collections from Slack (one live binding
  per collection and trade order number; one per modal).
- ``digest_runs``: one row per (schedule, local date) so a restart neither skips nor repeats.
- ``digest_schedules``: schedules added with `/whalet digest schedule` (the config file's live
  in the config file).
- ``digest_known``: when each schedule (config or Slack) was first seen, so catch-up never runs
  a fire time from before the schedule existed (a fresh install at 09:30 does not post "09:00").
- ``balance_snapshots``: balances as each digest saw them, for "change since the last digest".
- ``outbox``/``message_refs``/``channel_health``: the durable outbox (services.slack.outbox).
- ``quiet_windows``: until when an alert key stays quiet (operator alerts, across replicas).
- ``outbox_lanes``: per channel, which process is delivering there now (lease) and the shared
  pace, so replicas on one Postgres database never post in one channel at once nor too fast.
- ``modal_forms``: the state behind an open modal (its ``private_metadata`` is only the row id).
- ``approval_audience``: who may approve each request (read when its card was put up) and
  whether they got a DM copy, so every copy follows the request; ``approval_reminders``: one
  row per request that got its half-way reminder (the row is the claim: exactly once, however
  many replicas sweep).
- ``home_dirty``: people whose App Home must be published again (one row each, so many changes
  coalesce into one ``views.publish``); ``home_balances``: the balance snapshot the Home shows.
- ``digest_totals``: each digest's total per Whalet user in the reporting currency (exact decimal
  text), for its "change since the last digest"; ``digest_runs.chart_*``: the digest chart's
  upload, claimed like an outbox row so a restart does not upload it twice.
"""

from __future__ import annotations

from core.storage.dialect import PerDialect

Statement = str | PerDialect  # one SQL for both engines, or (rarely: triggers) one per engine
Migration = tuple[str, list[Statement] | str]  # statements, or one script split on complete statements

MIGRATIONS: list[Migration] = [
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
            # who approved what. (Postgres: one PL/pgSQL function for the row triggers, and
            # TRUNCATE refused too; the bot's role is also stripped of those rights below.)
            PerDialect(
                sqlite="""
                CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
                """,
                postgres="""
                CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$
                """,
            ),
            PerDialect(
                sqlite="""
                CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
                """,
                postgres="""
                CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
                FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
                """,
            ),
            PerDialect(
                sqlite=None,
                postgres="""
                CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
                """,
            ),
            # The bot needs INSERT and SELECT on the audit log, nothing else: its own role gives
            # up the rest, so even a trigger dropped by hand does not make rows editable by it.
            PerDialect(sqlite=None, postgres="REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM CURRENT_USER"),
        ],
    ),
    (
        "0002_core_kv",
        ["CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
    ),
    (
        "0100_commands_approvals",
        [
            """
            CREATE TABLE approval_requests (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('payout', 'pay')),
                state TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 1,
                requester TEXT NOT NULL,
                user_id TEXT NOT NULL,
                fund_source TEXT NOT NULL DEFAULT '',
                amount TEXT NOT NULL,
                currency TEXT NOT NULL,
                fee TEXT,
                to_amount TEXT,
                to_currency TEXT,
                rate TEXT,
                beneficiary_id TEXT,
                beneficiary_name TEXT,
                payee_user_id TEXT,
                account_tail TEXT,
                purpose TEXT NOT NULL DEFAULT '',
                reference TEXT NOT NULL DEFAULT '',
                flags TEXT NOT NULL DEFAULT '[]',
                mer_order_no TEXT NOT NULL UNIQUE,
                whalet_id TEXT,
                expires_at TEXT,
                required_approvals INTEGER NOT NULL DEFAULT 1,
                fingerprint TEXT,
                origin_channel TEXT,
                response_url TEXT,
                created_at TEXT NOT NULL,
                decided_at TEXT,
                decided_by TEXT,
                reason TEXT,
                result_status TEXT,
                fail_reason TEXT,
                note TEXT
            )
            """,
            "CREATE INDEX approval_requests_state ON approval_requests(state, expires_at)",
            "CREATE INDEX approval_requests_requester ON approval_requests(requester, currency, created_at)",
            """
            CREATE TABLE approvals (
                request_id TEXT NOT NULL REFERENCES approval_requests(id),
                approver TEXT NOT NULL,
                at TEXT NOT NULL,
                UNIQUE (request_id, approver)
            )
            """,
            """
            CREATE TABLE beneficiary_book (
                mer_beneficiary_no TEXT PRIMARY KEY,
                id TEXT UNIQUE,
                nickname TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                country TEXT NOT NULL,
                currency TEXT NOT NULL,
                account_tail TEXT NOT NULL,
                status TEXT NOT NULL,
                fail_reason TEXT,
                added_by TEXT NOT NULL,
                added_at TEXT NOT NULL
            )
            """,
        ],
    ),
    (
        # Ownership of a confirm by lease (who sends, until when), the bounded reconciliation's
        # counters, the fee's own currency, and approvals that stopped counting (role revoked).
        "0101_commands_approvals_lease",
        [
            "ALTER TABLE approval_requests ADD COLUMN lease_owner TEXT",
            "ALTER TABLE approval_requests ADD COLUMN lease_until TEXT",
            "ALTER TABLE approval_requests ADD COLUMN confirm_attempts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE approval_requests ADD COLUMN checked_attempt INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE approval_requests ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE approval_requests ADD COLUMN whalet_calls INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE approval_requests ADD COLUMN next_attempt_at TEXT",
            "ALTER TABLE approval_requests ADD COLUMN fee_currency TEXT",
            "ALTER TABLE approvals ADD COLUMN revoked_at TEXT",
            "UPDATE approval_requests SET fee_currency = currency WHERE fee IS NOT NULL",
        ],
    ),
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
        "0300_outbox",
        [
            """CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                op TEXT NOT NULL CHECK (op IN ('post', 'update')),
                channel TEXT,
                text TEXT NOT NULL,
                blocks TEXT,
                thread_ref TEXT,
                ref TEXT,
                kind TEXT NOT NULL DEFAULT 'message',
                fold_line TEXT,
                correlation_id TEXT,
                state TEXT NOT NULL DEFAULT 'pending',
                check_first INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                rate_limited INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                last_error TEXT,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                ts TEXT,
                folded_into INTEGER
            )""",
            "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at)",
            "CREATE INDEX IF NOT EXISTS outbox_ref ON outbox(ref, state)",
            """CREATE TABLE IF NOT EXISTS message_refs (
                ref TEXT PRIMARY KEY, channel TEXT NOT NULL, ts TEXT NOT NULL, outbox_id INTEGER
            )""",
            """CREATE TABLE IF NOT EXISTS channel_health (
                channel TEXT PRIMARY KEY, last_error TEXT, last_error_at TEXT, last_ok_at TEXT
            )""",
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
    (
        # Several processes on one database (Postgres replicas): who holds a piece of work and
        # until when. An outbox row being delivered and its channel's lane (one delivery per
        # channel at a time, and the channel's pace, shared by every replica); a digest run
        # being gathered. A holder that dies is taken over once its lease has run out.
        "0400_replicas_claims",
        [
            "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
            "ALTER TABLE outbox ADD COLUMN lease_until TEXT",
            """CREATE TABLE outbox_lanes (
                channel TEXT PRIMARY KEY,
                holder TEXT,
                lease_until TEXT,
                pace_at TEXT,
                blocked_until TEXT
            )""",
            "ALTER TABLE digest_runs ADD COLUMN owner TEXT",
            "ALTER TABLE digest_runs ADD COLUMN lease_until TEXT",
            # One quiet window per alert key, shared: replicas that sweep the same request raise
            # its alert once, not once each.
            "CREATE TABLE quiet_windows (key TEXT PRIMARY KEY, until TEXT NOT NULL)",
            # The relay's "nothing earlier about this object still waiting" check, kept cheap.
            "CREATE INDEX inbox_waiting_business ON inbox(business_id, id) WHERE processed_at IS NULL",
        ],
    ),
    (
        "0500_commands_modal_forms",
        [
            "CREATE TABLE modal_forms (id TEXT PRIMARY KEY, data TEXT NOT NULL, created_at TEXT NOT NULL)",
            "CREATE INDEX modal_forms_age ON modal_forms(created_at)",
        ],
    ),
    (
        # Reaching the approvers (issue 11): DM copies of a card, the half-way reminder, the Home.
        "0600_approvals_audience_home",
        [
            """CREATE TABLE approval_audience (
                request_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                dm INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (request_id, user_id)
            )""",
            "CREATE TABLE approval_reminders (request_id TEXT PRIMARY KEY, sent_at TEXT NOT NULL)",
            "CREATE TABLE home_dirty (user_id TEXT PRIMARY KEY, since TEXT NOT NULL)",
            """CREATE TABLE home_balances (
                user_id TEXT NOT NULL,
                fund_source TEXT NOT NULL,
                currency TEXT NOT NULL,
                available TEXT,
                pending TEXT,
                frozen TEXT,
                taken_at TEXT NOT NULL,
                PRIMARY KEY (user_id, fund_source, currency)
            )""",
        ],
    ),
    (
        # The digest's total per user in the reporting currency, and its chart's upload: NULL
        # chart_state for runs from before this migration (no chart); pending -> uploading ->
        # done | failed, with the holder and its lease as for digest runs.
        "0700_notifications_digest_totals_and_chart",
        [
            """CREATE TABLE digest_totals (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                digest_run_id INTEGER NOT NULL,
                channel TEXT NOT NULL,
                taken_at TEXT NOT NULL,
                user_id TEXT NOT NULL,
                currency TEXT NOT NULL,
                total TEXT NOT NULL,
                complete INTEGER NOT NULL
            )""",
            "CREATE INDEX digest_totals_prev ON digest_totals(channel, user_id, currency, id)",
            "CREATE INDEX balance_snapshots_time ON balance_snapshots(channel, taken_at)",
            "ALTER TABLE digest_runs ADD COLUMN chart_state TEXT",
            "ALTER TABLE digest_runs ADD COLUMN chart_owner TEXT",
            "ALTER TABLE digest_runs ADD COLUMN chart_lease_until TEXT",
            "ALTER TABLE digest_runs ADD COLUMN chart_file_id TEXT",
            "ALTER TABLE digest_runs ADD COLUMN chart_error TEXT",
            "CREATE INDEX digest_runs_chart_due ON digest_runs(chart_state) "
            "WHERE chart_state IN ('pending', 'uploading')",
        ],
    ),
    (
        # A result notification that contradicts its request (amount, currency, Whalet user or
        # order): what Whalet reported, kept beside the request for a person, never applied.
        "0800_approvals_attention",
        ["ALTER TABLE approval_requests ADD COLUMN attention TEXT"],
    ),
    (
        # The answer to a click made in an App Home, shown at its top for a while: in the
        # database, so whichever replica publishes the Home next shows it.
        "0810_home_notices",
        ["CREATE TABLE home_notices (user_id TEXT PRIMARY KEY, text TEXT NOT NULL, until TEXT NOT NULL)"],
    ),
    (
        # Slash commands that create a request, by trigger_id, so a replayed copy makes none
        # (core/storage/replays.py).
        "0820_command_replays",
        [
            "CREATE TABLE command_replays (trigger_id TEXT PRIMARY KEY, received_at TEXT NOT NULL, request_id TEXT)",
            "CREATE INDEX command_replays_received ON command_replays (received_at)",
        ],
    ),
    (
        # Approval layers: the tier's layers as they were when the request was made (JSON), and
        # which layer each approval satisfied.
        "0830_approval_layers",
        [
            "ALTER TABLE approval_requests ADD COLUMN layers TEXT",
            "ALTER TABLE approvals ADD COLUMN layer INTEGER",
        ],
    ),
    ("0831_payee_names", ["ALTER TABLE approval_requests ADD COLUMN payee_name TEXT"]),
    (
        # Requests that outlive Whalet's quote: when that quote ends, how often it was renewed at
        # release, and the order numbers it replaced (never to be confirmed).
        "0832_requotes",
        [
            "ALTER TABLE approval_requests ADD COLUMN quote_expires_at TEXT",
            "ALTER TABLE approval_requests ADD COLUMN requotes INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE approval_requests ADD COLUMN superseded_orders TEXT",
            # the terms (rate, fee, amount received) each approval was given on
            "ALTER TABLE approvals ADD COLUMN terms TEXT",
        ],
    ),
    (
        # Batch payouts: the batch is one approval request (with a lines digest) whose lines are kept
        # here; each line is released as its own payout request (batch_id, line_no), under an
        # order number derived from the batch, the line and the attempt. ``summary`` and
        # ``lines_digest`` are what the batch's card shows and its fingerprint covers.
        "0833_batches",
        [
            "ALTER TABLE approval_requests ADD COLUMN batch_id TEXT",
            "ALTER TABLE approval_requests ADD COLUMN line_no INTEGER",
            "ALTER TABLE approval_requests ADD COLUMN summary TEXT",
            "ALTER TABLE approval_requests ADD COLUMN lines_digest TEXT",
            "CREATE INDEX approval_requests_batch ON approval_requests(batch_id, line_no)",
            """CREATE TABLE batch_lines (
                batch_id TEXT NOT NULL,
                line_no INTEGER NOT NULL,
                beneficiary_id TEXT NOT NULL,
                beneficiary_name TEXT NOT NULL,
                account_tail TEXT,
                amount TEXT NOT NULL,
                currency TEXT NOT NULL,
                to_currency TEXT NOT NULL,
                purpose TEXT NOT NULL,
                reference TEXT NOT NULL,
                flags TEXT NOT NULL,
                request_id TEXT,
                attempt INTEGER NOT NULL DEFAULT 0,
                outcome TEXT,
                reason TEXT,
                PRIMARY KEY (batch_id, line_no)
            )""",
            """CREATE TABLE batches (
                id TEXT PRIMARY KEY,
                file_name TEXT NOT NULL,
                rates TEXT NOT NULL,
                results_posted_at TEXT
            )""",
        ],
    ),
    (
        # Documents sent from a replenish to-do (Submit documents). The to-do's ``docs`` and
        # ``rounds`` are its claim: one sending at a time, compare-and-set on the row; the
        # submission row is unique per (to-do, round) and per modal (``form_id``).
        "0850_replenish_submissions",
        [
            "ALTER TABLE replenish_todos ADD COLUMN docs TEXT",
            "ALTER TABLE replenish_todos ADD COLUMN docs_by TEXT",
            "ALTER TABLE replenish_todos ADD COLUMN docs_since TEXT",
            "ALTER TABLE replenish_todos ADD COLUMN rounds INTEGER NOT NULL DEFAULT 0",
            """CREATE TABLE replenish_submissions (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                replenish_id TEXT NOT NULL,
                round INTEGER NOT NULL,
                form_id TEXT NOT NULL UNIQUE,
                submitted_by TEXT NOT NULL,
                note TEXT,
                files TEXT NOT NULL,
                prior_docs TEXT,
                state TEXT NOT NULL,
                detail TEXT,
                result TEXT,
                remark TEXT,
                created_at TEXT NOT NULL,
                finished_at TEXT,
                UNIQUE (replenish_id, round)
            )""",
        ],
    ),
    (
        # Trade orders bound to B2B collections (Bind trade order): one live binding per
        # (collection, trade order number), one per modal.
        "0851_trade_order_bindings",
        [
            """CREATE TABLE trade_order_bindings (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                form_id TEXT NOT NULL UNIQUE,
                collection_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                trade_order_no TEXT NOT NULL,
                amount TEXT NOT NULL,
                currency TEXT NOT NULL,
                buyer_name TEXT NOT NULL,
                contract TEXT,
                requested_by TEXT NOT NULL,
                channel TEXT NOT NULL,
                state TEXT NOT NULL,
                bind_id TEXT,
                detail TEXT,
                result TEXT,
                remark TEXT,
                created_at TEXT NOT NULL,
                finished_at TEXT
            )""",
            "CREATE UNIQUE INDEX trade_order_bindings_live ON trade_order_bindings (collection_id, trade_order_no) "
            "WHERE state IN ('sending', 'accepted', 'passed')",
            "CREATE INDEX trade_order_bindings_order ON trade_order_bindings (trade_order_no)",
        ],
    ),
    (
        # Files the bot puts into a message's thread once that message is in Slack (a batch's
        # lines and results as CSV): queued in the transaction that decides them, claimed with a
        # lease for the upload, like the digest's chart. The content is Base64 text (one column
        # type on both engines).
        "0860_thread_files",
        [
            """CREATE TABLE thread_files (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                parent_ref TEXT NOT NULL,
                channel TEXT NOT NULL,
                filename TEXT NOT NULL,
                title TEXT NOT NULL,
                content TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                owner TEXT,
                lease_until TEXT,
                file_id TEXT,
                error TEXT,
                queued_at TEXT NOT NULL,
                UNIQUE (parent_ref, filename)
            )""",
            "CREATE INDEX thread_files_due ON thread_files(state) WHERE state IN ('pending', 'uploading')",
        ],
    ),
]
