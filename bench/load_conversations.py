"""What the simulated residents of the load test say (``bench/locustfile.py``).

Multi-turn guidance conversations in Chinese and English, written from the
bureau's guidance text (``../shared/seeds/000_8ff13995ec7325de.txt``): paying
medical insurance oneself (urban or agricultural household registration),
the materials and where to go, employers' registration under Article 57, who
informs the agency, and how to check a payment.  Some turns are the button
payloads the widget sends, as a resident clicking would.  No text holds
personal data (no ID number, code or phone), so the tracker store keeps each
one verbatim and the checker (``bench/load_check.py``) can compare them.
Stdlib only: Locust imports this from its own virtual environment.
"""

from __future__ import annotations

from typing import List

from bench.conversations import SHEBAO_GUIDANCE, Conversation

URBAN = '/inform_residency{"residency_type":"urban"}'
AGRICULTURAL = '/inform_residency{"residency_type":"agricultural"}'

RESIDENT_CONVERSATIONS: List[Conversation] = [
    *SHEBAO_GUIDANCE,
    [
        "您好",
        "我没有工作了，医保想自己补交",
        "我是城镇户口",
        "需要带哪些材料",
        "数码照片回执是什么",
        "去哪里交",
        "好的，谢谢",
    ],
    [
        "我是农村户口，想办新农合",
        "要去哪里办理",
        "要带什么东西",
        "谢谢你",
        "再见",
    ],
    [
        "请问个人怎么补缴医疗保险",
        AGRICULTURAL,
        "不对，其实我是城镇户口",
        "失业证在哪里开",
        "交多少钱",
        "拜拜",
    ],
    [
        "我们公司刚成立，社保登记要多久内办",
        "需要准备什么材料",
        "公司地址变更了怎么办",
        "法律依据是哪一条",
        "谢谢",
    ],
    [
        "出生死亡户口迁移谁通知社保",
        "公司成立谁通知社保机构",
        "好的",
    ],
    [
        "交完医保以后怎么查询",
        "可以去哪里查",
        "我想查一下我自己交了哪几个月",
        "取消",
        "转人工",
    ],
    [
        "Hello",
        "I lost my job, how can I pay my medical insurance on my own?",
        "I have an urban hukou",
        "which documents should I bring",
        "what is a digital photo receipt",
        "where should I go",
        "thank you",
    ],
    [
        "I'm from the countryside, how do I join the new rural medical insurance?",
        "where do I apply",
        "what do I need to bring",
        "goodbye",
    ],
    [
        "how do I pay medical insurance as an individual?",
        "I'm not sure",
        URBAN,
        "how much will it cost",
        "bye",
    ],
    [
        "We just set up a company. How long do we have to register for social insurance?",
        "what do we need to bring",
        "our company is closing down, what do we do",
        "what is the legal basis",
        "thanks a lot",
    ],
    [
        "who informs the social insurance agency when someone is born or dies",
        "and who tells them when a company is set up",
        "ok thanks",
    ],
    [
        "I paid my medical insurance, how can I check it?",
        "can I check it online",
        "I'd like to speak to a human",
        '/give_feedback{"feedback_answered": true, "feedback_rating": 4}',
    ],
]
