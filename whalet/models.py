"""Typed bodies of every Whalet operation and notification (spec §4–5).

Three rules shape these models:

* Whalet may add fields at any time, so what Whalet sends (results, notifications) keeps unknown
  fields (``extra="allow"``) instead of failing; only the fields the spec marks are required.
* Money is ``whalet.money.Money``. Whalet's pages disagree with themselves (money objects in the
  examples, ``number <double>`` in the field lists), so a bare number is accepted too and takes
  its currency from a sibling field named in ``money_currency`` (a balance row's ``currency``;
  ``rmbAmount`` is always CNY).
* What we send (requests) is strict (``extra="forbid"``, validated currencies, amounts that fit
  the currency) so a bad command fails here, in our words, instead of as a PARAMETER_ERROR from
  Whalet. ``to_wire()`` produces the exact business body: amounts as Decimals with the
  currency's minor digits, times as Whalet's "yyyy-MM-dd HH:mm:ss" in Whalet's zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Mapping

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from whalet.money import Money, MoneyError, to_decimal, validate_currency
from whalet.operations import operation_for

# --- provisional: Whalet's clock (spec §3) -----------------------------------------------------
WHALET_TZ = timezone(timedelta(hours=8), "UTC+08:00")
WHALET_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_whalet_time(value: Any) -> datetime:
    """ "2024-10-14 00:56:33" (Whalet's zone), ISO 8601, epoch milliseconds, or a datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return datetime.fromtimestamp(int(value) / 1000, tz=WHALET_TZ)
    elif isinstance(value, str):
        try:
            parsed = datetime.strptime(value.strip(), WHALET_TIME_FORMAT)
        except ValueError:
            parsed = datetime.fromisoformat(value.strip())  # ValueError -> validation error
    else:
        raise ValueError(f"{value!r} is not a time")
    return parsed.replace(tzinfo=WHALET_TZ) if parsed.tzinfo is None else parsed.astimezone(WHALET_TZ)


def _lenient_time(value: Any) -> datetime | None:
    """``expireTime``: Whalet's pages are vague about it, so a missing or unreadable one is None and
    our own TTL rule decides (lenient where Whalet is vague; the money fields stay strict)."""
    if value is None or value == "":
        return None
    try:
        return parse_whalet_time(value)
    except (ValueError, TypeError, OverflowError, OSError):
        return None


def format_whalet_time(value: datetime) -> str:
    return parse_whalet_time(value).strftime(WHALET_TIME_FORMAT)


def _order_no(value: str) -> str:
    if not value or len(value) > 30:
        raise ValueError("an order number has 1 to 30 characters")
    return value


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise ValueError(f"'{value}' is not a two-letter country code (ISO 3166, e.g. HK)")
    return code


WhaletTime = Annotated[datetime, BeforeValidator(parse_whalet_time)]
LenientTime = Annotated[datetime | None, BeforeValidator(_lenient_time)]
Currency = Annotated[str, AfterValidator(validate_currency)]
Exact = Annotated[Decimal, BeforeValidator(to_decimal)]  # numbers never pass through float
OrderNo = Annotated[str, AfterValidator(_order_no)]
Country = Annotated[str, AfterValidator(_country)]


class FundSource(StrEnum):
    B2C = "B2C"
    B2B = "B2B"
    ACQUIRING = "Acquiring"


class _Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True, frozen=True
    )


# --- what Whalet sends ---------------------------------------------------------------------------


class Inbound(_Camel):
    """A result or notification body: unknown fields kept, bare amounts given their currency."""

    model_config = ConfigDict(extra="allow")
    # money field (wire name) -> sibling field holding its currency, or "=CUR" for a fixed one
    money_currency: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _give_amounts_a_currency(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls.money_currency:
            return data
        data = dict(data)
        for key, source in cls.money_currency.items():
            value = data.get(key)
            code = source[1:] if source.startswith("=") else data.get(source)
            if value is not None and code and not isinstance(value, Money):
                data[key] = Money.parse(value, code)
        return data


class CurrencyBalance(Inbound):
    money_currency = {
        "balance": "currency",
        "orderQuota": "currency",
        "pendingAmount": "currency",
        "freezeAmount": "currency",
        "rmbAmount": "=CNY",
    }
    currency: Currency
    balance: Money | None = None
    order_quota: Money | None = None
    rmb_amount: Money | None = None
    pending_amount: Money | None = None
    freeze_amount: Money | None = None

    @model_validator(mode="before")
    @classmethod
    def _currency_from_amounts(cls, data: Any) -> Any:
        """The page marks ``currency`` optional; then the row's money objects name it."""
        if isinstance(data, dict) and not data.get("currency"):
            for key in ("balance", "pendingAmount", "freezeAmount", "orderQuota"):
                if isinstance(data.get(key), dict) and data[key].get("currency"):
                    return {**data, "currency": data[key]["currency"]}
        return data


def rows_of(data: Any) -> list[Any]:
    """Rows of a list answer: a bare array, ``{"records": [...]}``, one bare row, or nothing."""
    if data is None:
        return []
    rows = (data.get("records") if "records" in data else [data]) if isinstance(data, dict) else data
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise ValueError('a list answer is an array of rows or {"records": [...]}')
    return rows


def parse_balances(data: Any) -> list[CurrencyBalance]:
    """Whalet's example is a bare array, its field list says ``{"records": [...]}``: take both."""
    return [CurrencyBalance.model_validate(row) for row in rows_of(data)]


class RateQuote(Inbound):
    """1 ``currency`` = ``rate`` ``to_currency`` until ``expire_time``."""

    rate_id: str
    currency: Currency
    to_currency: Currency
    rate: Exact
    expire_time: LenientTime = None


class PayoutApplyResult(Inbound):
    money_currency = {"amount": "currency", "fee": "currency", "toAmount": "toCurrency"}
    payout_id: str
    mer_order_no: str
    status: str
    amount: Money
    fee: Money
    to_amount: Money
    rate: Exact | None = None
    expire_time: LenientTime = None
    currency: Currency | None = None
    to_currency: Currency | None = None


class PayoutConfirmResult(Inbound):
    payout_id: str
    status: str


class PayApplyResult(Inbound):
    money_currency = {"amount": "currency", "fee": "currency"}
    pay_id: str
    mer_order_no: str
    status: str
    amount: Money
    fee: Money
    expire_time: LenientTime = None
    currency: Currency | None = None


class PayConfirmResult(Inbound):
    pay_id: str
    status: str


class BeneficiaryCountry(Inbound):
    country: str
    currencies: list[str] = []


class BeneficiaryField(Inbound):
    """One input of the beneficiary form for a (country, currency): drives the Slack modal."""

    name: str
    label: str
    required: bool = False
    max_length: int | None = None
    pattern: str | None = None
    options: list[Any] | None = None


class BeneficiaryApplyResult(Inbound):
    beneficiary_id: str
    status: str


class BeneficiaryDeleteResult(Inbound):
    beneficiary_id: str | None = None
    status: str | None = None


class Record(Inbound):
    """One row of a record query; its id field is named after the record kind."""

    money_currency = {"amount": "currency", "fee": "currency", "toAmount": "toCurrency"}
    ID_FIELDS: ClassVar[tuple[str, ...]] = ("collectionId", "payoutId", "paymentId", "withdrawId", "payId", "id")
    mer_order_no: str | None = None
    status: str | None = None
    currency: Currency | None = None
    amount: Money | None = None
    fee: Money | None = None
    to_currency: Currency | None = None
    to_amount: Money | None = None
    create_time: WhaletTime | None = None
    finish_time: WhaletTime | None = None

    @property
    def record_id(self) -> str | None:
        extra = self.model_extra or {}
        return next((str(extra[key]) for key in self.ID_FIELDS if extra.get(key) is not None), None)


class RecordPage(Inbound):
    total: int
    page_num: int
    page_size: int
    records: list[Record] = []


class ReplenishItem(Inbound):
    """An EDD / trade replenish request as the query returns it (fields provisional)."""

    replenish_id: str
    status: str | None = None
    reason: str | None = None
    required_materials: list[Any] = []
    deadline: WhaletTime | None = None


class ReplenishSubmitResult(Inbound):
    replenish_id: str | None = None
    status: str | None = None


class TradeOrderBindResult(Inbound):
    """Whalet's answer to tradeOrderBindApply (provisional): the binding's id and PROCESSING; the
    decision follows as tradeOrderBindNotify."""

    bind_id: str | None = None
    trade_order_no: str | None = None
    status: str | None = None


class ConnectivityResult(Inbound):
    message: str


class MockPayeeResult(Inbound):
    collection_id: str | None = None
    status: str | None = None


# --- notifications (spec §5) ---------------------------------------------------------------------


class CollectionReceived(Inbound):
    money_currency = {"amount": "currency"}
    user_id: str
    collection_id: str
    virtual_account_no: str = Field(repr=False)
    fund_source: str
    currency: Currency
    amount: Money
    payer_name: str
    payer_account: str | None = Field(default=None, repr=False)
    received_time: WhaletTime
    status: str


class PayoutResult(Inbound):
    money_currency = {"amount": "currency", "fee": "currency", "toAmount": "toCurrency"}
    user_id: str
    payout_id: str
    mer_order_no: str
    status: str
    currency: Currency
    amount: Money
    fee: Money
    to_currency: Currency
    to_amount: Money
    fail_reason: str | None = None
    finish_time: WhaletTime


class PayResult(Inbound):
    money_currency = {"amount": "currency", "fee": "currency"}
    user_id: str
    pay_id: str
    mer_order_no: str
    status: str
    currency: Currency
    amount: Money
    fee: Money
    fail_reason: str | None = None
    finish_time: WhaletTime


class BeneficiaryResult(Inbound):
    user_id: str
    beneficiary_id: str
    mer_beneficiary_no: str
    status: str
    fail_reason: str | None = None


class EddReplenishNotice(Inbound):
    user_id: str
    replenish_id: str
    reason: str
    required_materials: list[Any]
    deadline: WhaletTime


class TradeReplenishNotice(EddReplenishNotice):
    trade_type: str
    trade_id: str


class ReplenishResult(Inbound):
    user_id: str
    replenish_id: str
    trade_id: str | None = None  # present on tradeReplenishResultNotify
    status: str
    remark: str | None = None


class ReviewResult(Inbound):
    """Onboarding, holder, virtual account, card cancel, shop and trade-order-bind outcomes."""

    user_id: str
    status: str
    remark: str | None = None


class ConnectivityNotice(Inbound):
    message: str
    request_no: str


NOTIFICATION_MODELS: Mapping[str, type[Inbound]] = {
    "collectionReceivedNotify": CollectionReceived,
    "payoutResultNotify": PayoutResult,
    "payResultNotify": PayResult,
    "beneficiaryResultNotify": BeneficiaryResult,
    "eddReplenishNotify": EddReplenishNotice,
    "eddReplenishResultNotify": ReplenishResult,
    "tradeReplenishNotify": TradeReplenishNotice,
    "tradeReplenishResultNotify": ReplenishResult,
    **dict.fromkeys(
        (
            "userOnboardingResultNotify",
            "userHolderResultNotify",
            "virtualAccountNotify",
            "cardCancelResultNotify",
            "shopBindResultNotify",
            "tradeOrderBindNotify",
        ),
        ReviewResult,
    ),
    "connectivityNotify": ConnectivityNotice,
}


def parse_notification(api_code: str, body: Any, api_codes: Mapping[str, str] | None = None) -> Inbound | None:
    """The typed body of a notification, or None for an apiCode we do not know (relay it generically).

    ``api_codes`` is the resolved operation -> apiCode map when the config corrected apiCodes.
    A known apiCode whose body lacks a required field raises pydantic's ValidationError.
    """
    name = operation_for(api_code, api_codes) if api_codes is not None else api_code
    model = NOTIFICATION_MODELS.get(name or "")
    return None if model is None else model.model_validate(body if body is not None else {})


# --- what we send ----------------------------------------------------------------------------------


class Outbound(_Camel):
    """A request body: strict, and ``to_wire()`` gives exactly what goes inside the envelope."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _amount_fits(cls, value: Any) -> Any:
        if isinstance(value, Money):
            value.wire_amount()  # MoneyError (a ValueError): more decimals than the currency has
            if value.amount <= 0:
                raise MoneyError(f"the amount must be above zero, got {value.format()}")
        return value

    def to_wire(self) -> dict[str, Any]:
        """Money ``amount`` becomes ``amount`` + ``currency``; times Whalet's format; None left out."""
        wire: dict[str, Any] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            key = field.alias or name
            if value is None:
                continue
            if isinstance(value, Money):
                wire[key] = value.wire_amount()
                wire.setdefault("currency", value.currency)
            elif isinstance(value, datetime):
                wire[key] = format_whalet_time(value)
            elif isinstance(value, StrEnum):
                wire[key] = value.value
            else:
                wire[key] = value
        return wire


class CurrencyBalanceQuery(Outbound):
    user_id: str
    currency: Currency | None = None
    fund_source: FundSource


class PlatformBalanceQuery(Outbound):
    currency: Currency | None = None
    fund_source: FundSource | None = None


class RateQuery(Outbound):
    user_id: str
    currency: Currency
    to_currency: Currency
    fund_source: FundSource


class PayoutApplyRequest(Outbound):
    user_id: str
    mer_order_no: OrderNo
    fund_source: FundSource
    amount: Money
    to_currency: Currency
    rate_id: str | None = None
    beneficiary_id: str
    purpose: str
    remark: str | None = None


class PayoutConfirmRequest(Outbound):
    user_id: str
    payout_id: str


class PayApplyRequest(Outbound):
    user_id: str
    mer_order_no: OrderNo
    payee_user_id: str
    amount: Money
    purpose: str
    remark: str | None = None


class PayConfirmRequest(Outbound):
    user_id: str
    pay_id: str


class BeneficiaryCountriesQuery(Outbound):
    pass


class BeneficiaryFieldsQuery(Outbound):
    country: Country
    currency: Currency


class BeneficiaryApplyRequest(Outbound):
    user_id: str
    mer_beneficiary_no: OrderNo
    country: Country
    currency: Currency
    account_name: str
    account_no: str = Field(repr=False)  # never in logs or reprs; display masks it
    bank_name: str
    swift_code: str | None = None
    extra: dict[str, Any] = {}


class BeneficiaryDeleteRequest(Outbound):
    user_id: str
    beneficiary_id: str


class RecordQuery(Outbound):
    user_id: str
    start_time: WhaletTime
    end_time: WhaletTime
    status: str | None = None
    mer_order_no: str | None = None
    page_num: int = Field(default=1, ge=1)
    page_size: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> RecordQuery:
        if self.start_time > self.end_time:
            raise ValueError("the start time is after the end time")
        return self


class EddReplenishQueryRequest(Outbound):
    user_id: str
    replenish_id: str | None = None


class EddReplenishSubmitRequest(Outbound):
    user_id: str
    replenish_id: str
    materials: dict[str, Any] | list[Any]  # documents; the spec leaves their shape open
    remark: str | None = None  # the person's note (provisional, like payoutApply's remark)


class TradeReplenishSubmitRequest(EddReplenishSubmitRequest):
    trade_id: str


class TradeOrderBindRequest(Outbound):
    """tradeOrderBindApply (provisional): bind a trade order to a B2B collection. ``amount``
    travels as ``amount`` + ``currency``; ``contract`` is one document in the materials encoding."""

    user_id: str
    collection_id: str
    trade_order_no: Annotated[str, Field(min_length=1, max_length=64)]
    amount: Money
    buyer_name: Annotated[str, Field(min_length=1, max_length=140)]
    contract: dict[str, Any] | list[Any] | None = None


class ConnectivityRequest(Outbound):
    message: str


class MockPayeeNotifyRequest(Outbound):
    user_id: str
    amount: Money
    payer_name: str | None = None
    virtual_account_no: str | None = None
