"""Every notification Whalet can send has exactly one kind, and every table is read from it."""

from __future__ import annotations

import notifications  # noqa: F401  (importing the package declares every kind)
from core.config_fields import EVENT_GROUPS
from notifications.kinds import all_kinds, business_id, kind_of
from whalet.models import NOTIFICATION_MODELS
from whalet.operations import NOTIFICATION_GROUPS, OPERATIONS


def test_every_notification_operation_has_a_kind() -> None:
    notification_operations = {name for name, op in OPERATIONS.items() if op.is_notification}
    assert {kind.operation for kind in all_kinds()} == notification_operations


def test_each_kind_names_its_object_and_reads_model_and_group_from_the_protocol_tables() -> None:
    for kind in all_kinds():
        assert kind.business_id_fields, kind.operation
        assert kind.render is not None or kind.relay is not None, kind.operation
        assert kind.model is NOTIFICATION_MODELS[kind.operation]
        assert kind.group is not None and kind.operation in NOTIFICATION_GROUPS[kind.group]
    assert set(EVENT_GROUPS) == {kind.group for kind in all_kinds()}


def test_business_id_is_the_first_field_present() -> None:
    assert business_id("payoutResultNotify", {"merOrderNo": "M1"}) == "M1"
    assert business_id("payoutResultNotify", {"payoutId": "PO1", "merOrderNo": "M1"}) == "PO1"
    assert business_id("payoutResultNotify", {"payoutId": ""}) is None
    assert business_id("someNewNotify", {"id": "X"}) is None and kind_of("someNewNotify") is None
    assert kind_of("userHolderResultNotify").title == "Account holder review"  # type: ignore[union-attr]
