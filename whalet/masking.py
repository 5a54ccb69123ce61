"""Account and card numbers are shown only by their last four characters, everywhere.

One place for the rule, because it applies to every surface a number can reach: Slack messages,
modals, sentences built from Whalet's error details.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "••••"
_DIGIT_RUN = re.compile(r"\d{8,}")


def mask(number: Any) -> str:
    """'6222021234567890' -> '••••7890' (spaces and dashes ignored); '••••' when there is nothing."""
    text = re.sub(r"[\s-]", "", str(number or ""))
    return MASK + text[-4:] if text else MASK


def mask_digit_runs(text: str) -> str:
    """Mask every run of 8 or more digits inside free text (an account number in a remark)."""
    return _DIGIT_RUN.sub(lambda m: mask(m.group(0)), text)
