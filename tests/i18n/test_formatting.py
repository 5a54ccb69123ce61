"""Amounts, dates and times written the reader's way, and sentences translated where they are shown."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from core.i18n import later, translator
from services.slack.subcommands import UsageError
from whalet.money import Money


def test_amounts_keep_the_currencys_digits_in_both_languages() -> None:
    for locale in ("en", "zh-Hans"):
        t = translator(locale)
        assert t.amount(Money(Decimal("1200.5"), "USD")) == "1,200.50 USD"
        assert t.amount(Money(Decimal("1234567"), "JPY")) == "1,234,567 JPY"
        assert t.amount(Money(Decimal("-1.25"), "KWD")) == "-1.250 KWD"
        assert t.amount(Money(Decimal("12345678901234567890.12"), "USD")) == "12,345,678,901,234,567,890.12 USD"
        assert t.amount(None) == "—"
    # the money type's own English formatting and the translator's agree
    assert translator("en").amount(Money(Decimal("0.005"), "USD")) == Money(Decimal("0.005"), "USD").format()


def test_dates_are_iso_in_english_and_chinese_in_chinese() -> None:
    day = date(2031, 6, 30)
    assert translator("en").date(day) == "2031-06-30"
    assert translator("zh-Hans").date(day) == "2031年6月30日"


def test_a_moment_is_shown_in_the_readers_slack_zone_or_the_fallback() -> None:
    when = datetime(2031, 6, 30, 23, 59, 30, tzinfo=UTC)
    shanghai = timezone(timedelta(hours=8))
    assert translator("en").moment(when, shanghai) == "2031-07-01 07:59 UTC+8"
    assert translator("zh-Hans", "America/St_Johns").moment(when, shanghai) == "2031年6月30日 21:29 UTC-2:30"
    assert translator("en", "Europe/London").moment(when, UTC) == "2031-07-01 00:59 UTC+1"
    assert translator("en", "Not/AZone").moment(when, UTC) == "2031-06-30 23:59 UTC"


def test_a_later_sentence_is_translated_with_its_values_when_shown() -> None:
    inner = later("give two currencies, e.g. `rate USD HKD`")
    assert str(inner) == "give two currencies, e.g. `rate USD HKD`"
    assert translator("zh-Hans").text(inner) == "请写两个币种，例如 `rate USD HKD`"
    outer = later("I could not read that: %(reason)s", reason=inner)
    assert translator("zh-Hans").text(outer) == "无法识别这条命令：请写两个币种，例如 `rate USD HKD`"
    assert str(outer) == "I could not read that: give two currencies, e.g. `rate USD HKD`"


def test_a_usage_error_is_english_as_text_and_the_readers_language_when_shown() -> None:
    exc = UsageError("this command takes no arguments, but got '%(words)s'", words="x y")
    assert str(exc) == "this command takes no arguments, but got 'x y'"
    assert exc.text(translator("zh-Hans")) == "这个命令不需要参数，但收到了 'x y'"
    assert exc.text(translator("en")) == str(exc)


def test_a_whalet_error_inside_another_sentence_is_translated_with_it_and_masked() -> None:
    """``sentence_of`` keeps Whalet's error as a catalog sentence, so a reason quoted inside
    another sentence (a to-do's thread, a digest's rates note, a card's note) reads in one
    language; an account number in Whalet's detail is masked before any reader sees it."""
    from services.whalet_words import sentence_of
    from whalet.errors import BadParameters, RateLimited

    limited = sentence_of(RateLimited("TOO_MANY_REQUESTS", ""))
    zh = translator("zh-Hans").gettext("Whalet refused them: %(why)s", why=limited)
    assert "易鲸暂时限制了我们的请求频率" in zh and "rate-limiting" not in zh
    assert (
        translator("en")
        .gettext("Whalet refused them: %(why)s", why=limited)
        .endswith("Whalet is rate-limiting us, try again in a minute.")
    )
    leaky = sentence_of(BadParameters("PARAMETER_ERROR", "account 6222020200112233445 is closed"))
    for locale in ("en", "zh-Hans"):
        shown = translator(locale).text(leaky)
        assert "6222020200112233445" not in shown and "3445" in shown


def test_an_amount_kept_in_a_later_sentence_is_written_by_its_readers_translator() -> None:
    refusal = later("The approval policy does not cover %(amount)s.", amount=Money(Decimal("1234567.5"), "USD"))
    assert str(refusal) == "The approval policy does not cover 1,234,567.50 USD."
    assert "1,234,567.50 USD" in translator("zh-Hans").text(refusal)
