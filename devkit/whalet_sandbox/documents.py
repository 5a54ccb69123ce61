"""Documents people send Whalet: replenish materials and trade-order bindings.

The spec leaves the shape of ``materials`` open (provisional), and the bot can write it two
ways (``[whalet] replenish_materials``); the sandbox reads both and records what matters to a
test or an operator: each file's name, size and SHA-256, checked against what the sender said.

- ``base64``: a list of ``{name, contentType, size, sha256, content}`` (content Base64);
- ``base64_map``: an object ``{file name: Base64 content}``;
- anything else non-empty (a list of names, a tool's own object) is kept as given, without files.

Bindings (``tradeOrderBindApply``, provisional) are answered PROCESSING and decided after the
sandbox's delay: PASS, or REJECT when the buyer's name contains "REJECT" (as for beneficiaries).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import Decimal
from typing import Any

from .events import Collections
from .ledger import Ledger
from .wire import failure, parameter_error

REJECT_WORD = "REJECT"


def _base64(content: Any) -> bytes | None:
    if not isinstance(content, str):
        return None
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return None


def _decoded(name: str, content: Any) -> bytes:
    data = _base64(content)
    if data is None:
        raise parameter_error(f"materials: the content of {name} is not Base64 text")
    return data


def _file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def read_materials(materials: Any) -> list[dict[str, Any]]:
    """The files inside ``materials`` as ``{name, size, sha256}``; a sender's size or SHA-256 that
    does not match the bytes is a PARAMETER_ERROR (a file cut on its way)."""
    if isinstance(materials, dict):
        decoded = {str(name): _base64(content) for name, content in materials.items()}
        if any(data is None for data in decoded.values()):
            return []  # an object of plain labels, not files: kept as given
        return [_file(name, data) for name, data in decoded.items() if data is not None]
    files = []
    for item in materials if isinstance(materials, list) else []:
        if not isinstance(item, dict) or "content" not in item:
            continue
        name = str(item.get("name") or "document")
        found = _file(name, _decoded(name, item["content"]))
        if item.get("size") is not None and item["size"] != found["size"]:
            raise parameter_error(f"materials: {name} is {found['size']} bytes, not {item['size']}")
        if item.get("sha256") is not None and str(item["sha256"]).lower() != found["sha256"]:
            raise parameter_error(f"materials: the SHA-256 of {name} does not match its content")
        files.append(found | {"contentType": item.get("contentType")})
    return files


class TradeOrders:
    """Trade orders bound to B2B collections, one record per ``bindId``."""

    def __init__(self, ledger: Ledger, collections: Collections) -> None:
        self.ledger = ledger
        self.collections = collections
        self.records: dict[str, dict[str, Any]] = {}

    def bind(
        self,
        user_id: str,
        collection_id: str,
        trade_order_no: str,
        amount: Decimal,
        currency: str,
        buyer_name: str,
        contract: Any,
    ) -> dict[str, Any]:
        self.ledger.check_user(user_id)
        collection = next(
            (c for c in self.collections.records if c["collectionId"] == collection_id and c["userId"] == user_id), None
        )
        if collection is None:
            raise parameter_error(f"collection not found: {collection_id}")
        if collection["fundSource"] != "B2B":
            raise failure(f"collection {collection_id} is {collection['fundSource']}: only B2B takes trade orders")
        for earlier in self.records.values():
            if earlier["userId"] == user_id and earlier["tradeOrderNo"] == trade_order_no:
                if earlier["status"] != "REJECT":
                    raise failure(f"trade order {trade_order_no} is already bound ({earlier['bindId']})")
        record: dict[str, Any] = {
            "bindId": self.ledger.next_id("TB"),
            "userId": user_id,
            "collectionId": collection_id,
            "tradeOrderNo": trade_order_no,
            "amount": amount,
            "currency": currency,
            "buyerName": buyer_name,
            "contract": read_materials(contract) if contract else [],
            "status": "PROCESSING",
        }
        self.records[record["bindId"]] = record
        self.ledger.timeline.at(self.ledger.after_delay(), lambda: self._scheduled(record["bindId"]))
        return {"bindId": record["bindId"], "tradeOrderNo": trade_order_no, "status": "PROCESSING"}

    def _scheduled(self, bind_id: str) -> None:
        self.decide(bind_id, None, None)

    def decide(self, bind_id: str, status: str | None, remark: str | None) -> dict[str, Any]:
        record = self.records.get(bind_id)
        if record is None:
            raise parameter_error(f"binding not found: {bind_id}")
        if record["status"] != "PROCESSING":
            return record
        if status is None:  # the scheduled decision: the sandbox's rule
            rejected = REJECT_WORD in record["buyerName"].upper()
            status = "REJECT" if rejected else "PASS"
            remark = "Buyer could not be verified (sandbox rule: a buyer named REJECT)" if rejected else None
        if status not in ("PASS", "REJECT"):
            raise parameter_error("status must be PASS or REJECT")
        record["status"], record["remark"] = status, remark
        body = {k: record[k] for k in ("userId", "bindId", "collectionId", "tradeOrderNo")} | {"status": status}
        if remark:
            body["remark"] = remark
        self.ledger.notify("tradeOrderBindNotify", body)
        return record
