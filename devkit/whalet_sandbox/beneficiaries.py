"""Beneficiary bank accounts: the seeded three plus those bound via ``beneficiaryApply``.

Seeded beneficiaries (BEN001..BEN003) are partner-wide, usable by every user; applied ones
belong to the applying user. A new one is PROCESSING until its result notification after the
sandbox delay; sandbox rule: an accountName containing "REJECT" FAILs.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from . import seed
from .ledger import Ledger
from .wire import Body, GatewayError, failure, parameter_error

REJECT_REASON = "Account name failed the bank's name check (sandbox rule: names containing REJECT)"


class Beneficiaries:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.records: dict[str, dict[str, Any]] = {}
        for item in seed.BENEFICIARIES:
            self.records[item["beneficiaryId"]] = {**copy.deepcopy(item), "userId": None, "status": "SUCCESS"}
        self._next = len(self.records) + 1

    def usable(self, beneficiary_id: str, user_id: str) -> dict[str, Any]:
        record = self.records.get(beneficiary_id)
        if record is None or record["status"] == "DELETED" or record["userId"] not in (None, user_id):
            raise parameter_error(f"beneficiary not found: {beneficiary_id}")
        if record["status"] != "SUCCESS":
            raise failure(f"beneficiary {beneficiary_id} is {record['status']}, not usable for payouts")
        return record

    def apply(self, body: Body, user_id: str) -> dict[str, Any]:
        mer_no = body.req("merBeneficiaryNo", 30)
        country = body.req("country", 2)
        if country not in seed.COUNTRIES:
            raise parameter_error(f"country {country} is not supported")
        currency = body.currency("currency")
        if currency not in seed.COUNTRIES[country][0]:
            raise parameter_error(f"currency {currency} is not supported for {country}")
        extra = body.mapping("extra")
        values: dict[str, Any] = {}
        for field in seed.beneficiary_fields(country):
            name = field["name"]
            if name in seed.TOP_LEVEL_FIELDS:
                value = body.text(name, required=field["required"], max_len=field["maxLength"])
            else:
                value = extra.get(name)
                if value in (None, "") or not isinstance(value, str):
                    raise parameter_error(f"extra.{name} ({field['label']}) is required for {country}")
            if value is not None and field.get("pattern") and not re.fullmatch(field["pattern"], value):
                raise parameter_error(
                    f"{name} does not match {field['pattern']}"
                )  # never the value: it may be an account number
            if value is not None and field.get("options") and value not in field["options"]:
                raise parameter_error(f"{name} must be one of {', '.join(field['options'])}")
            if name in seed.TOP_LEVEL_FIELDS:
                values[name] = value
        for record in self.records.values():
            if record["merBeneficiaryNo"] == mer_no and record["userId"] == user_id:
                raise GatewayError(
                    "IDEMPOTENT_ERROR", f"merBeneficiaryNo {mer_no} already used by {record['beneficiaryId']}"
                )
        beneficiary_id = f"BEN{self._next:03d}"
        self._next += 1
        record = {
            "beneficiaryId": beneficiary_id,
            "merBeneficiaryNo": mer_no,
            "country": country,
            "currency": currency,
            **values,
            "extra": extra,
            "userId": user_id,
            "status": "PROCESSING",
        }
        self.records[beneficiary_id] = record
        self.ledger.timeline.at(self.ledger.after_delay(), lambda: self._decide(record))
        return {"beneficiaryId": beneficiary_id, "status": "PROCESSING"}

    def _decide(self, record: dict[str, Any]) -> None:
        if record["status"] != "PROCESSING":
            return
        rejected = "REJECT" in record["accountName"].upper()
        record["status"] = "FAIL" if rejected else "SUCCESS"
        body = {
            "userId": record["userId"],
            "beneficiaryId": record["beneficiaryId"],
            "merBeneficiaryNo": record["merBeneficiaryNo"],
            "status": record["status"],
        }
        if rejected:
            body["failReason"] = REJECT_REASON
        self.ledger.notify("beneficiaryResultNotify", body)

    def delete(self, beneficiary_id: str, user_id: str) -> dict[str, Any]:
        record = self.records.get(beneficiary_id)
        if record is None or record["status"] == "DELETED" or record["userId"] not in (None, user_id):
            raise parameter_error(f"beneficiary not found: {beneficiary_id}")
        record["status"] = "DELETED"
        return {"beneficiaryId": beneficiary_id, "status": "DELETED"}
