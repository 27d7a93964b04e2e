"""Agora's A2A endpoint through the official a2a-sdk 1.x client (protocol v1.0), unmodified.

Environment: A2A_RUNNER (base URL of an agent with a component), A2A_MESSAGE (base URL of an
agent whose handler answers messages), A2A_QUIET (base URL of an agent with no handler),
A2A_KEY (the caller's agent key), A2A_STRANGER_KEY (another agent's key). Prints what it saw
as one JSON object.
"""

import asyncio
import json
import os

import httpx
from a2a.client import A2ACardResolver, ClientConfig, create_client
from a2a.helpers import get_artifact_text, new_text_message
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Role,
    SendMessageRequest,
    SendMessageConfiguration,
    TaskPushNotificationConfig,
    GetTaskPushNotificationConfigRequest,
    ListTaskPushNotificationConfigsRequest,
    DeleteTaskPushNotificationConfigRequest,
)
from a2a.types import a2a_pb2


def http(key):
    return httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)


async def client(url, key, streaming):
    return await create_client(url, client_config=ClientConfig(streaming=streaming, httpx_client=http(key)))


async def send(c, text, **config):
    req = SendMessageRequest(message=new_text_message(text, role=Role.ROLE_USER))
    if config:
        req.configuration.CopyFrom(SendMessageConfiguration(**config))
    events = []
    async for ev in c.send_message(req):
        events.append(ev)
    return events


def state_name(task):
    return a2a_pb2.TaskState.Name(task.status.state)


async def error_name(call):
    try:
        await call
    except Exception as e:  # the SDK's mapped protocol errors
        return type(e).__name__
    return None


async def main():
    runner, message, quiet = os.environ["A2A_RUNNER"], os.environ["A2A_MESSAGE"], os.environ["A2A_QUIET"]
    key, stranger = os.environ["A2A_KEY"], os.environ["A2A_STRANGER_KEY"]
    out = {}

    async with httpx.AsyncClient() as anon:
        card = await A2ACardResolver(anon, runner).get_agent_card()
    out["card"] = {
        "name": card.name,
        "versions": [i.protocol_version for i in card.supported_interfaces],
        "streaming": card.capabilities.streaming,
        "skills": [s.id for s in card.skills],
    }

    c = await client(runner, key, streaming=False)
    events = await send(c, "hello from v1")
    task = events[-1].task
    out["send"] = {"payload": events[-1].WhichOneof("payload"), "state": state_name(task),
                   "answer": get_artifact_text(task.artifacts[0]) if task.artifacts else None}
    got = await c.get_task(GetTaskRequest(id=task.id))
    out["get"] = {"state": state_name(got), "history": len(got.history)}
    listed = await c.list_tasks(ListTasksRequest())
    out["list"] = {"ids": [t.id for t in listed.tasks], "total": listed.total_size, "sent": task.id}
    out["cancel_done"] = await error_name(c.cancel_task(CancelTaskRequest(id=task.id)))
    await c.close()

    s = await client(runner, key, streaming=True)
    events = await send(s, "streamed")
    kinds = [e.WhichOneof("payload") for e in events]
    last = events[-1]
    final_state = a2a_pb2.TaskState.Name(last.status_update.status.state) if kinds[-1] == "status_update" else state_name(last.task)
    answers = [get_artifact_text(e.artifact_update.artifact) for e in events if e.WhichOneof("payload") == "artifact_update"]
    answers += [get_artifact_text(a) for e in events if e.WhichOneof("payload") == "task" for a in e.task.artifacts]
    out["stream"] = {"kinds": kinds, "final": final_state, "answers": answers}
    await s.close()

    h = await client(message, key, streaming=False)
    events = await send(h, "Hello handler")
    task = events[-1].task
    out["handler"] = {"state": state_name(task), "answer": get_artifact_text(task.artifacts[0]) if task.artifacts else None}
    await h.close()

    q = await client(quiet, key, streaming=False)
    events = await send(q, "nobody answers", return_immediately=True)
    open_task = events[-1].task
    config = TaskPushNotificationConfig(task_id=open_task.id, id="hook", url="http://127.0.0.1:9/hook", token="t0k")
    made = await q.create_task_push_notification_config(config)
    fetched = await q.get_task_push_notification_config(GetTaskPushNotificationConfigRequest(task_id=open_task.id, id="hook"))
    listed = await q.list_task_push_notification_configs(ListTaskPushNotificationConfigsRequest(task_id=open_task.id))
    await q.delete_task_push_notification_config(DeleteTaskPushNotificationConfigRequest(task_id=open_task.id, id="hook"))
    after = await q.list_task_push_notification_configs(ListTaskPushNotificationConfigsRequest(task_id=open_task.id))
    out["push"] = {"made": made.url, "fetched": fetched.token, "listed": len(listed.configs), "after": len(after.configs)}
    canceled = await q.cancel_task(CancelTaskRequest(id=open_task.id))
    out["cancel"] = {"before": state_name(open_task), "after": state_name(canceled)}
    await q.close()

    x = await client(runner, stranger, streaming=False)
    out["stranger_get"] = await error_name(x.get_task(GetTaskRequest(id=task.id)))
    out["stranger_list"] = len((await x.list_tasks(ListTasksRequest())).tasks)
    await x.close()
    print(json.dumps(out))


asyncio.run(main())
