"""Split the text of a `/whalet` command into words, the way a finance person means them.

Slack hands us everything after `/whalet` as one string. People quote multi-word values
(`for "March invoices"`), their Slack client may turn straight quotes into typographic ones,
and with `should_escape` on, Slack sends mentions as `<@U123|alice>` / `<#C123|general>` /
`<!subteam^S123|@finance>` and HTML-escapes `&`, `<` and `>`. This module turns all of that into
plain tokens so sub-command parsers only ever see ids and words.

Rules (deliberately simpler than shlex, so apostrophes in words such as `Acme's` stay literal):
- whitespace separates tokens;
- a quote character opens a quoted part only at the start of a token, and the part runs to
  the matching closing quote (typographic quotes close their own pair); an unclosed quote is
  an error, because guessing where a purpose text ends is worse than asking;
- `<@U…|name>` → `U…`, `<#C…|name>` → `C…`, `<!subteam^S…|@name>` → `S…`,
  `<https://x|label>` → `https://x`; entities `&amp;` `&lt;` `&gt;` are decoded;
- then the text is NFKC-normalised: a Chinese input method types full-width digits, letters,
  quotes and spaces (`/whalet 付款 １２００ ＵＳＤ`), which NFKC turns into their ASCII forms.
  Other scripts' digits (١٢٠٠) are not compatibility forms and stay as typed, so the amount
  parser still refuses them. Normalising after unescaping means a typed `＜@U1＞` stays text;
- corner brackets 「…」 and 『…』 (Chinese quotation marks) quote like the others.
"""

from __future__ import annotations

from core.i18n import Later, later

import re
import unicodedata

__all__ = ["TokenizeError", "tokenize", "is_user_id", "is_channel_id"]

_QUOTES = {
    '"': '"',
    "'": "'",
    "\u201c": "\u201d",
    "\u2018": "\u2019",
    "\u201e": "\u201c",
    "\u300c": "\u300d",
    "\u300e": "\u300f",
}
_ESCAPED = re.compile(r"<([@#!])?([^<>|]+)(?:\|[^<>]*)?>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


class TokenizeError(ValueError):
    """The command text cannot be split; the message says where (``reason``: in any language)."""

    def __init__(self, reason: Later) -> None:
        super().__init__(str(reason))
        self.reason = reason


def _unescape_slack(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        sigil, target = match.group(1), match.group(2)
        if sigil == "!" and target.startswith("subteam^"):
            return target.removeprefix("subteam^")
        if sigil == "!":
            return "@" + target  # <!here>, <!channel>
        return target

    text = _ESCAPED.sub(replace, text)
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def tokenize(text: str) -> list[str]:
    """Tokens of `text`; raises TokenizeError on an unclosed quote."""
    text = unicodedata.normalize("NFKC", _unescape_slack(text or ""))
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        opener = text[i]
        if opener in _QUOTES:
            closer = _QUOTES[opener]
            end = text.find(closer, i + 1)
            if opener == '"' and end < 0:
                end = text.find("\u201d", i + 1)  # mixed straight/typographic pair
            if end < 0:
                raise TokenizeError(
                    later(
                        "the quote %(quote)s at position %(position)s is never closed; put the closing quote after the text",
                        quote=opener,
                        position=i + 1,
                    )
                )
            tokens.append(text[i + 1 : end])
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        tokens.append(text[start:i])
    return tokens


def is_user_id(token: str) -> bool:
    return bool(re.fullmatch(r"[UW][A-Z0-9]{2,}", token))


def is_channel_id(token: str) -> bool:
    return bool(re.fullmatch(r"[CGD][A-Z0-9]{2,}", token))
