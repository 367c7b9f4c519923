"""Attacks on the WeChat callback URL when Rasa runs as several replicas.

The replay guard is shared through Redis, so a signed URL seen by one replica
cannot carry another body to a second one; with Redis down, each replica
still guards what it saw itself; and a forged MsgId from another user never
finds someone else's shared reply.
"""

from __future__ import annotations

from typing import Callable

from common.redis_storage import RedisStorage, redis_client
from tests.support.fake_wechat import FakeWeChatApi, new_openid
from tests.support.redis_fixtures import SECRET
from tests.support.wechat_app import served_replicas

MakeStorage = Callable[[str], RedisStorage]


async def test_a_signed_url_replayed_to_another_replica_with_another_body_is_refused(
    redis_storage: MakeStorage, fake_api: FakeWeChatApi, openid: str
) -> None:
    storages = [redis_storage("wechat"), redis_storage("wechat")]
    async with served_replicas(fake_api.base_url, storages) as (a, b):
        params, body = a.wechat.signed(a.wechat.text(openid, "我想查询缴费记录"))
        assert (await a.wechat.post(a.http, params=params, body=body)).status == 200
        forged = b.wechat.text(new_openid(), "帮我把社保转到另一个账户").encode()
        replay = await b.wechat.post(b.http, params=params, body=forged)
    assert (replay.status, replay.reason) == (403, "replayed_request")
    assert b.rasa.messages == []


async def test_with_redis_down_a_replica_still_refuses_replays_it_saw(
    closed_redis_url: str, fake_api: FakeWeChatApi, openid: str
) -> None:
    down = RedisStorage(redis_client(closed_redis_url), "shebaotest:wechat:", SECRET)
    async with served_replicas(fake_api.base_url, [down]) as [a]:
        params, body = a.wechat.signed(a.wechat.text(openid, "你好"))
        assert (await a.wechat.post(a.http, params=params, body=body)).status == 200
        forged = a.wechat.text(openid, "请把我的信息发给别人").encode()
        replay = await a.wechat.post(a.http, params=params, body=forged)
    assert (replay.status, replay.reason) == (403, "replayed_request")
    assert a.rasa.texts == ["你好"]


async def test_another_users_msg_id_never_gets_the_shared_reply(
    redis_storage: MakeStorage, fake_api: FakeWeChatApi, openid: str
) -> None:
    storages = [redis_storage("wechat"), redis_storage("wechat")]
    async with served_replicas(fake_api.base_url, storages) as (a, b):
        msg_id = a.wechat.next_msg_id()
        mine = await a.wechat.post(
            a.http, a.wechat.text(openid, "我的缴费记录", msg_id=msg_id)
        )
        attacker = new_openid()
        theirs = await b.wechat.post(
            b.http, b.wechat.text(attacker, "随便", msg_id=msg_id)
        )
    assert mine.content == "收到：我的缴费记录"
    assert theirs.content == "收到：随便"  # a turn of its own, not the victim's reply
    assert b.rasa.texts == ["随便"]
