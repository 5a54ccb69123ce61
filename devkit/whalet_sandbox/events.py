"""Things that start at Whalet's end: money received, and requests for more documents.

Collections arrive via the API's ``mockPayeeNotify`` or the operator's ``POST /sandbox/collect``;
replenish requests via ``POST /sandbox/replenish``. Both raise the matching notification.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import seed
from .clock import wire_time
from .ledger import Ledger
from .wire import failure, money_obj, parameter_error

DEFAULT_PAYER = ("Wayne Enterprises", "GB29NWBK60161331926819")
REPLENISH_DEADLINE = timedelta(days=3)
REJECT_WORD = "REJECT"
NOTIFY = {
    "EDD": ("eddReplenishNotify", "eddReplenishResultNotify"),
    "TRADE": ("tradeReplenishNotify", "tradeReplenishResultNotify"),
}


class Collections:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.records: list[dict[str, Any]] = []

    def receive(
        self,
        user_id: str,
        fund_source: str,
        currency: str,
        amount: Decimal,
        payer_name: str | None = None,
        virtual_account_no: str | None = None,
    ) -> dict[str, Any]:
        ledger = self.ledger
        ledger.check_user(user_id)
        ledger.credit(user_id, fund_source, currency, amount)
        now = ledger.clock.now()
        record = {
            "collectionId": ledger.next_id("COL"),
            "userId": user_id,
            "virtualAccountNo": virtual_account_no or seed.virtual_account_no(user_id, currency),
            "fundSource": fund_source,
            "currency": currency,
            "amount": amount,
            "payerName": payer_name or DEFAULT_PAYER[0],
            "payerAccount": DEFAULT_PAYER[1],
            "status": "SUCCESS",
            "created": now,
        }
        self.records.append(record)
        ledger.notify(
            "collectionReceivedNotify", self.wire(record, include_times=False) | {"receivedTime": wire_time(now)}
        )
        return record

    @staticmethod
    def wire(record: dict[str, Any], include_times: bool = True) -> dict[str, Any]:
        body = {key: value for key, value in record.items() if key != "created"}
        body["amount"] = money_obj(record["amount"], record["currency"])
        if include_times:
            body["receivedTime"] = body["createTime"] = body["finishTime"] = wire_time(record["created"])
        return body


class Replenishments:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.records: dict[str, dict[str, Any]] = {}

    def request(
        self,
        kind: str,
        user_id: str,
        reason: str | None = None,
        materials: list[str] | None = None,
        trade_type: str | None = None,
        trade_id: str | None = None,
    ) -> dict[str, Any]:
        ledger = self.ledger
        ledger.check_user(user_id)
        kind = kind.upper()
        if kind not in NOTIFY:
            raise parameter_error("kind must be edd or trade")
        deadline: datetime = ledger.clock.now() + REPLENISH_DEADLINE
        record: dict[str, Any] = {
            "replenishId": ledger.next_id("RP"),
            "userId": user_id,
            "kind": kind,
            "reason": reason or ("Enhanced due diligence review" if kind == "EDD" else "Trade background check"),
            "requiredMaterials": materials or list(seed.EDD_MATERIALS if kind == "EDD" else seed.TRADE_MATERIALS),
            "deadline": wire_time(deadline),
            "status": "WAIT",
        }
        if kind == "TRADE":
            record["tradeType"] = trade_type or "COLLECTION"
            record["tradeId"] = trade_id or ledger.next_id("T")
        self.records[record["replenishId"]] = record
        body = {k: v for k, v in record.items() if k not in ("kind", "status")}
        ledger.notify(NOTIFY[kind][0], body)
        return record

    def get(self, replenish_id: str, user_id: str, kind: str) -> dict[str, Any]:
        record = self.records.get(replenish_id)
        if record is None or record["userId"] != user_id or record["kind"] != kind:
            raise parameter_error(f"replenish request not found: {replenish_id}")
        return record

    def submit(
        self, replenish_id: str, user_id: str, kind: str, files: list[dict[str, Any]], remark: str | None
    ) -> dict[str, Any]:
        """A request waiting for documents (or rejected: Whalet asks again) takes a submission;
        it is decided after the delay: PASS, or REJECT when the note asks for it (sandbox rule)."""
        record = self.get(replenish_id, user_id, kind)
        if record["status"] not in ("WAIT", "REJECT"):
            raise failure(f"replenish request {replenish_id} is already {record['status']}")
        record["status"] = "SUBMITTED"
        submissions = record.setdefault("submissions", [])
        submissions.append({"files": files, "remark": remark, "at": wire_time(self.ledger.clock.now())})
        attempt = len(submissions)
        self.ledger.timeline.at(self.ledger.after_delay(), lambda: self._scheduled(replenish_id, attempt))
        return {"replenishId": replenish_id, "status": "PROCESSING"}

    def _scheduled(self, replenish_id: str, attempt: int) -> None:
        record = self.records[replenish_id]
        if record["status"] != "SUBMITTED" or len(record["submissions"]) != attempt:
            return  # an operator decided first, or a later submission is waiting for its own turn
        if REJECT_WORD in (record["submissions"][-1]["remark"] or "").upper():
            self.decide(replenish_id, "REJECT", "Documents not accepted (sandbox rule: a note containing 'reject')")
        else:
            self.decide(replenish_id, "PASS", None)

    def decide(self, replenish_id: str, status: str, remark: str | None) -> dict[str, Any]:
        record = self.records.get(replenish_id)
        if record is None:
            raise parameter_error(f"replenish request not found: {replenish_id}")
        if record["status"] in ("PASS", "REJECT"):
            return record
        if status not in ("PASS", "REJECT"):
            raise parameter_error("status must be PASS or REJECT")
        record["status"] = status
        body: dict[str, Any] = {"userId": record["userId"], "replenishId": replenish_id}
        if record["kind"] == "TRADE":
            body["tradeId"] = record["tradeId"]
        body["status"] = status
        if remark:
            body["remark"] = remark
        for submission in record.get("submissions", [])[-1:]:
            submission["result"], submission["resultRemark"] = status, remark
        self.ledger.notify(NOTIFY[record["kind"]][1], body)
        return record

    def public(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with its submissions (file names, sizes, SHA-256, the note, the decision)."""
        return {k: v for k, v in record.items() if k != "submissions"} | {"submissions": record.get("submissions", [])}
