"""Who may do what, and which payouts the bot will handle at all (product spec §2).

Pure rules; who holds which role (Slack user groups included) is ``services.approvals.roles``.

Roles are ordered (viewer < requester < approver < admin): each role can do what the ones below
it can, so admins may approve. Four eyes is not configurable: whoever requested a payout never
approves it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from core.clock import day_start
from core.config import DEFAULT_DAY_ZONE, BotConfig
from core.i18n import N_, Later, Translator, later
from services.approvals.roles import ROLE_NAMES, Role, RoleResolver
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.commands.policy")

NEW_BENEFICIARY_DAYS = 30
# Flags are stored in English on the request (its fingerprint covers them) and marked for the
# catalog so a card can show them in its reader's language.
FLAG_NEW_BENEFICIARY = N_("new beneficiary")
FLAG_ABOVE_USUAL = N_("above usual size")


class PolicyRefused(Exception):
    """The policy says no; ``later`` is the sentence for the person who asked, translated where
    it is shown (``exc.text(translator)``); ``str(exc)`` is the English."""

    def __init__(self, message: Later) -> None:
        self.later = message
        super().__init__(str(message))

    def text(self, t: Translator) -> str:
        return t.text(self.later)


def resolver(services: Services) -> RoleResolver:
    """The process's role resolver (one per process, built with the services: its cache is shared)."""
    return services.roles


def holds_approver(role: Role) -> bool:
    return role >= Role.APPROVER


# --- requests -------------------------------------------------------------------------------------


def required_approvals(config: BotConfig, amount: Money, *, frozen: bool, spent_today: Decimal, requester: str) -> int:
    """Distinct approvers needed for a new request, or PolicyRefused with the reason."""
    if frozen:
        raise PolicyRefused(
            later(
                "Payouts are frozen by an admin, so no new request can be made until someone runs `/whalet unfreeze`."
            )
        )
    approvals = config.approvals
    if approvals is None:
        raise PolicyRefused(
            later(
                "No approval policy is configured (the [approvals] section of whalet-bot.toml), "
                "so the bot cannot send payouts."
            )
        )
    ceiling = approvals.ceiling_for(amount.currency)
    if ceiling is None:
        configured = sorted({tier.currency for tier in approvals.tiers})
        if configured:
            raise PolicyRefused(
                later(
                    "The approval policy has no tiers for %(currency)s, so the bot will not send it "
                    "(configured: %(configured)s).",
                    currency=amount.currency,
                    configured=", ".join(configured),
                )
            )
        raise PolicyRefused(
            later(
                "The approval policy has no tiers for %(currency)s, so the bot will not send it.",
                currency=amount.currency,
            )
        )
    if amount.amount > ceiling:
        raise PolicyRefused(
            later(
                "%(amount)s is above the bot's ceiling of %(ceiling)s; make this payout in Whalet's portal.",
                amount=amount,
                ceiling=Money(ceiling, amount.currency),
            )
        )
    limit = approvals.daily_limit_of(requester, amount.currency)
    if limit is not None and spent_today + amount.amount > limit:
        raise PolicyRefused(
            later(
                "This would bring your %(currency)s requests today to %(total)s, above your daily limit of %(limit)s.",
                currency=amount.currency,
                total=Money(spent_today + amount.amount, amount.currency),
                limit=Money(limit, amount.currency),
            )
        )
    needed = approvals.required_approvals(amount.currency, amount.amount)
    if needed is None:  # unreachable after the checks above, kept as the last word
        raise PolicyRefused(later("The approval policy does not cover %(amount)s.", amount=amount))
    return needed


def day_zone(config: BotConfig) -> str:
    """The zone whose calendar days limits and every "today" count in."""
    return config.approvals.day_zone if config.approvals else DEFAULT_DAY_ZONE


def today_start(config: BotConfig, now: datetime) -> datetime:
    """When "today" began for the daily limit: midnight in ``[approvals] day_zone``."""
    return day_start(now, day_zone(config))


def flags(config: BotConfig, amount: Money, *, new_beneficiary: bool) -> list[str]:
    """Warnings printed on the card for approvers to look at twice."""
    found = []
    if new_beneficiary:
        found.append(FLAG_NEW_BENEFICIARY)
    above = config.approvals.flag_above.get(amount.currency) if config.approvals else None
    if above is not None and amount.amount > above:
        found.append(FLAG_ABOVE_USUAL)
    return found


# --- clicks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why the policy says no: ``later`` is the sentence, translated where it is shown
    (``refusal.text(translator)``); ``reason`` is the English."""

    later: Later

    @property
    def reason(self) -> str:
        return str(self.later)

    def text(self, t: Translator) -> str:
        return t.text(self.later)


# The things a person asks for, as nouns inside a refusal (translated with it).
KIND_NOUNS = {noun: noun for noun in (N_("payout"), N_("payment"), N_("trade order binding"))}


def kind_noun(kind: str) -> Later | str:
    return Later(KIND_NOUNS[kind], {}) if kind in KIND_NOUNS else kind


def role_noun(role: Role) -> Later | str:
    return Later(ROLE_NAMES[role][0], {}) if role in ROLE_NAMES else role.label


def approver_refusal(role: Role, *, requester: str, clicker: str, kind: str = "payout") -> Refusal | None:
    """Why this person may not approve (or reject) this request, or None."""
    if clicker == requester:
        return Refusal(later("You requested this %(kind)s, so someone else has to approve it.", kind=kind_noun(kind)))
    if role < Role.APPROVER:
        return Refusal(
            later(
                "Only approvers can approve or reject a %(kind)s; your role is %(role)s.",
                kind=kind_noun(kind),
                role=role_noun(role),
            )
        )
    return None


def over_approver_limit(config: BotConfig, approver: str, amount: Money, *, requester: str = "") -> Refusal | None:
    """Why this approver may not approve ``amount`` (above their ``approver_limits``), naming
    who may; None within their limit or without one."""
    if within_approver_limit(config, approver, amount):
        return None
    limit = config.approvals.approver_limit_of(approver, amount.currency) if config.approvals else None
    assert limit is not None
    return Refusal(
        later(
            "Your approval limit is %(limit)s, so you cannot approve %(amount)s. %(who)s",
            limit=Money(limit, amount.currency),
            amount=amount,
            who=_who_may_approve(config, amount, besides=(approver, requester)),
        )
    )


def within_approver_limit(config: BotConfig, approver: str, amount: Money) -> bool:
    limit = config.approvals.approver_limit_of(approver, amount.currency) if config.approvals else None
    return limit is None or amount.amount <= limit


def _who_may_approve(config: BotConfig, amount: Money, *, besides: tuple[str, ...]) -> Later:
    roles = config.roles
    people = [
        f"<@{user}>"
        for user in dict.fromkeys([*roles.approvers, *roles.admins])
        if user not in besides and within_approver_limit(config, user, amount)
    ]
    people += [f"<!subteam^{group}>" for group in (*roles.approver_groups, *roles.admin_groups)]
    if people:
        return later("Ask %(people)s.", people=", ".join(people))
    return later("Nobody in the policy may approve it; ask an admin.")


def requester_refusal(role: Role, kind: str = "payout") -> Refusal | None:
    if role < Role.REQUESTER:
        return Refusal(
            later(
                "Only requesters can ask for a %(kind)s; your role is %(role)s. "
                "An admin can add you under [roles] in whalet-bot.toml.",
                kind=kind_noun(kind),
                role=role_noun(role),
            )
        )
    return None
