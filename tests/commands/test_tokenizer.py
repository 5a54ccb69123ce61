import pytest

from services.slack.tokenizer import TokenizeError, is_channel_id, is_user_id, tokenize


def test_plain_words_and_extra_spaces():
    assert tokenize("  payout   1200.50 USD  to acme-us ") == ["payout", "1200.50", "USD", "to", "acme-us"]


def test_double_and_single_quotes_keep_spaces():
    assert tokenize('payout 10 USD to acme for "March invoices, batch 2"')[-1] == "March invoices, batch 2"
    assert tokenize("pay 5 USD to U1 for 'rent & fees'")[-1] == "rent & fees"


def test_typographic_quotes_from_slack_clients():
    assert tokenize("for \u201cMarch invoices\u201d now") == ["for", "March invoices", "now"]
    assert tokenize("for \u2018x y\u2019") == ["for", "x y"]


def test_apostrophe_inside_a_word_is_literal():
    assert tokenize("for Acme's invoice") == ["for", "Acme's", "invoice"]


def test_empty_quotes_give_an_empty_token():
    assert tokenize('for ""') == ["for", ""]


@pytest.mark.parametrize("text", ['for "never closed', "for 'open", "x \u201copen"])
def test_unbalanced_quote_is_an_error_that_says_where(text):
    with pytest.raises(TokenizeError, match="never closed"):
        tokenize(text)


def test_slack_escaped_mentions_become_ids():
    text = "pay 5 USD to <@U0123ABC|alice> in <#C0456DEF|finance> cc <!subteam^S0789|@approvers> <!here>"
    assert tokenize(text) == ["pay", "5", "USD", "to", "U0123ABC", "in", "C0456DEF", "cc", "S0789", "@here"]


def test_unlabelled_mentions_links_and_entities():
    assert tokenize("<@U1ABC> <https://x.test/a|site> a&amp;b &lt;x&gt;") == ["U1ABC", "https://x.test/a", "a&b", "<x>"]


def test_escaped_entities_do_not_become_mentions():
    # "&lt;@U1&gt;" typed literally must not be read as a mention before decoding
    assert tokenize("&lt;@U1&gt;") == ["<@U1>"]


def test_empty_text():
    assert tokenize("") == [] and tokenize("   ") == []


def test_id_shapes():
    assert is_user_id("U0123ABC") and is_user_id("W12345")
    assert not is_user_id("acme-us") and not is_user_id("u123")
    assert is_channel_id("C0123") and not is_channel_id("#general")
