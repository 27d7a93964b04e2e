"""Agora's A2A endpoint through the official a2a-sdk 0.3.x client (protocol v0.3), unmodified.

The same environment as a2a_client_v1.py; prints what it saw as one JSON object.
"""

import asyncio
import json
import os

import httpx
from a2a.client import ClientConfig, ClientFactory, create_text_message_object
from a2a.client.errors import A2AClientJSONRPCError
from a2a.types import (
    GetTaskPushNotificationConfigParams,
    MessageSendConfiguration,
    PushNotificationConfig,
    Role,
    Task,
    TaskIdParams,
    TaskPushNotificationConfig,
    TaskQueryParams,
)


def http(key):
    return httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)


async def client(url, key, streaming, polling=False):
    config = ClientConfig(streaming=streaming, polling=polling, httpx_client=http(key))
    return await ClientFactory.connect(url, client_config=config)


async def send(c, text):
    events = []
    async for ev in c.send_message(create_text_message_object(role=Role.user, content=text)):
        events.append(ev)
    return events


def answer(task):
    if not task.artifacts:
        return None
    return "\n".join(p.root.text for a in task.artifacts for p in a.parts if p.root.kind == "text")


async def rpc_code(call):
    try:
        await call
    except A2AClientJSONRPCError as e:
        return e.error.code
    return None


async def main():
    runner, message, quiet = os.environ["A2A_RUNNER"], os.environ["A2A_MESSAGE"], os.environ["A2A_QUIET"]
    key, stranger = os.environ["A2A_KEY"], os.environ["A2A_STRANGER_KEY"]
    out = {}

    c = await client(runner, key, streaming=False)
    card = await c.get_card()
    out["card"] = {"protocol": card.protocol_version, "url_is_endpoint": card.url == runner}
    events = await send(c, "hello from v0.3")
    task = events[-1][0]
    out["send"] = {"state": task.status.state.value, "answer": answer(task)}
    got = await c.get_task(TaskQueryParams(id=task.id))
    out["get"] = {"state": got.status.state.value, "history": len(got.history or [])}
    out["cancel_done"] = await rpc_code(c.cancel_task(TaskIdParams(id=task.id)))
    await c.close()

    s = await client(runner, key, streaming=True)
    events = await send(s, "streamed")
    kinds = [(e[1].kind if e[1] is not None else "task") for e in events]
    last = events[-1][0]
    out["stream"] = {"first": kinds[0], "final": last.status.state.value, "answer": answer(last)}
    await s.close()

    h = await client(message, key, streaming=False)
    task = (await send(h, "Hello handler"))[-1][0]
    out["handler"] = {"state": task.status.state.value, "answer": answer(task)}
    await h.close()

    q = await client(quiet, key, streaming=True, polling=True)
    first = None
    async for ev in q.send_message(
        create_text_message_object(role=Role.user, content="nobody answers"),
        configuration=MessageSendConfiguration(blocking=False),
    ):
        first = ev[0] if isinstance(ev, tuple) else ev
        break
    config = TaskPushNotificationConfig(
        task_id=first.id, push_notification_config=PushNotificationConfig(id="hook", url="http://127.0.0.1:9/hook", token="t0k")
    )
    made = await q.set_task_callback(config)
    fetched = await q.get_task_callback(GetTaskPushNotificationConfigParams(id=first.id, push_notification_config_id="hook"))
    out["push"] = {"made": made.push_notification_config.url, "fetched": fetched.push_notification_config.token}

    seen = []

    async def follow():
        async for ev in q.resubscribe(TaskIdParams(id=first.id)):
            seen.append(ev[1].kind if ev[1] is not None else "task")
            if ev[0].status.state.value == "canceled":
                return ev[0].status.state.value

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    canceled = await q.cancel_task(TaskIdParams(id=first.id))
    followed = await asyncio.wait_for(follower, 10)
    out["cancel"] = {"before": first.status.state.value, "after": canceled.status.state.value, "followed": followed}
    await q.close()

    x = await client(runner, stranger, streaming=False)
    out["stranger_get"] = await rpc_code(x.get_task(TaskQueryParams(id=task.id)))
    await x.close()
    print(json.dumps(out))


asyncio.run(main())
