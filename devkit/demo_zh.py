"""`whalet-bot demo --locale zh-Hans`: the same tour with the people and the channels in Chinese.

The narration stays English (issue 23 allows it); what changes is Slack: the demo users' Slack
says ``zh-CN`` and ``[ui]`` puts every channel and anyone Slack does not describe in ``zh-Hans``.
The tour's expectations are written against the English text, so each English needle that a
translated surface shows differently has its Chinese needle here (amounts and currencies are the
same in both languages); a needle not listed is looked for as written (surfaces still English,
such as a refusal to click).
"""

from __future__ import annotations

from devkit.localstack import DEMO_CONFIG, DEMO_USERS, LocalStack

ZH_UI = '\n[ui]\ndefault_locale = "zh-Hans"\nchannel_locale = "zh-Hans"\n'

# English needle -> what the Chinese surface shows instead (core/locales/zh_Hans/…/messages.po).
ZH_WORDS = {
    "Approve": "批准",  # a button label prefix: 批准提现, 批准批量提现
    "You can approve": "你可以审批",
    "Approved by": "已由",
    "1 of 2": "1 / 2",
    "of 2": "/ 2",
    "Pay out the batch": "批量提现",
    "I'll handle it": "我来处理",  # the to-do card (notifications)
    "Whalet received the documents": "易鲸已收到补充资料",
    "PASS": "通过",
    "Closed": "已关闭",
    "Waiting for you": "待你审批",  # the App Home, in its reader's language
    "Refresh": "刷新",  # the Home's button: 刷新余额
    "Balances of": "的余额",
    "less than a minute ago": "不到一分钟前",
    "someone else": "其他人",  # the four-eyes refusal: 必须由其他人审批
    "3 lines": "3 行",
    "Results": "结果",
}

LOCALES = {"en": ({}, ""), "zh-Hans": (ZH_WORDS, ZH_UI)}


def config_for(locale: str) -> str:
    return DEMO_CONFIG + LOCALES[locale][1]


def speak(stack: LocalStack, locale: str) -> None:
    """The demo people's Slack language (users.info), as a Chinese finance team's would say."""
    if locale == "zh-Hans":
        for user in DEMO_USERS:
            stack.fake.users[user] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
