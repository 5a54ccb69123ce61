"""Tables of the commands package: approval requests, the approvals given, the beneficiary book.

Amounts are TEXT holding exact decimals (never REAL). Every state change of a request is a
compare-and-set on (id, state, version), see ``commands.approvals.service``; ``approvals`` has
one row per (request, approver), so the same person can never count twice.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, list[str]]] = [
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
]
