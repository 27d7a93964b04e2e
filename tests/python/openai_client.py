"""Uses the gateway with the official OpenAI Python client (`openai` >= 2, < 4), unmodified.

Environment: OPENAI_BASE_URL (ends in /v1) and OPENAI_API_KEY, read by `OpenAI()` itself;
AGORA_BAD_KEY (revoked or invalid), AGORA_BROKE_KEY (account with zero balance),
AGORA_LIMITED_KEY (rate limit 1 per minute, unused so far), AGORA_UNAVAILABLE_MODEL (a model the
gateway answers 503 for). Optional: AGORA_TOOLS_MODEL (default "auto"), the model asked for a tool
call; AGORA_EMBEDDING_MODEL (default "nomic-embed").

Prints one JSON object with the findings on stdout and exits 0. If something unexpected happens
(an exception, or a check below fails), prints what was found so far on stdout, the traceback on
stderr, and exits 1.
"""

import json
import os
import sys
import traceback

import openai
from openai import OpenAI

MESSAGES = [{"role": "user", "content": "hello from the python client"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def chat(findings, client):
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)
    completion = raw.parse()
    content = completion.choices[0].message.content
    check(content.startswith("echo:"), f"chat content {content!r} does not start with 'echo:'")
    check(completion.model == "auto", f"chat model is {completion.model!r}, not 'auto'")
    check(completion.usage is not None and completion.usage.total_tokens > 0, "chat usage is missing")
    findings["chat"] = {
        "content": content,
        "model": completion.model,
        "finish_reason": completion.choices[0].finish_reason,
        "usage": completion.usage.model_dump(exclude_none=True),
        "x-tokaroo-cache": raw.headers.get("x-tokaroo-cache"),
        "x-tokaroo-cost": raw.headers.get("x-tokaroo-cost"),
    }

    again = client.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)
    findings["cache"] = again.headers.get("x-tokaroo-cache")
    findings["cache_same_content"] = again.parse().choices[0].message.content == content


def stream(findings, client):
    chunks = list(
        client.chat.completions.create(
            model="auto", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    check(chunks, "the stream had no chunks")
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    last = chunks[-1]
    check(text.startswith("echo:"), f"streamed text {text!r} does not start with 'echo:'")
    check(last.choices == [], "the last chunk has choices")
    check(last.usage is not None, "the last chunk has no usage")
    findings["stream"] = {
        "text": text,
        "chunks": len(chunks),
        "finish_reason": next((c.finish_reason for ch in chunks for c in ch.choices if c.finish_reason), None),
        "last_choices_empty": True,
        "usage": last.usage.model_dump(exclude_none=True),
    }


def tools(findings, client):
    completion = client.chat.completions.create(
        model=os.environ.get("AGORA_TOOLS_MODEL", "auto"),
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    choice = completion.choices[0]
    calls = choice.message.tool_calls or []
    check(calls, f"no tool call; finish_reason {choice.finish_reason!r}, content {choice.message.content!r}")
    findings["tools"] = {
        "finish_reason": choice.finish_reason,
        "name": calls[0].function.name,
        "arguments": json.loads(calls[0].function.arguments),
        "id": calls[0].id,
    }


def embeddings(findings, client):
    # No encoding_format: the client asks for base64 and decodes it to floats itself.
    result = client.embeddings.create(
        model=os.environ.get("AGORA_EMBEDDING_MODEL", "nomic-embed"), input=["hello world", "second text"]
    )
    vectors = [d.embedding for d in result.data]
    check(len(vectors) == 2, f"{len(vectors)} embeddings for 2 inputs")
    floats = all(isinstance(x, float) for v in vectors for x in v)
    check(floats and len(vectors[0]) > 0, "embeddings are not non-empty lists of floats")
    findings["embeddings"] = {
        "count": len(vectors),
        "length": len(vectors[0]),
        "floats": floats,
        "usage": result.usage.model_dump(exclude_none=True),
    }


def models(findings, client):
    findings["models"] = [m.id for m in client.models.list()]


def expect_error(findings, status, expected, call):
    """Runs `call`, which must raise `expected` with this status; records the class and details."""
    try:
        call()
    except expected as e:
        check(e.status_code == status, f"expected {status}, got {e.status_code}: {e}")
        findings["errors"][str(status)] = type(e).__name__
        findings["error_details"][str(status)] = {
            "code": e.code,
            "type": e.type,
            "message": e.message,
            "retry-after": e.response.headers.get("retry-after"),
            "x-should-retry": e.response.headers.get("x-should-retry"),
        }
        return
    raise AssertionError(f"expected {expected.__name__} ({status}), but the call succeeded")


def errors(findings):
    findings["errors"], findings["error_details"] = {}, {}

    def ask(key, model="auto"):
        client = OpenAI(api_key=key, max_retries=0, timeout=60.0)
        return lambda: client.chat.completions.create(model=model, messages=MESSAGES)

    expect_error(findings, 401, openai.AuthenticationError, ask(os.environ["AGORA_BAD_KEY"]))
    expect_error(findings, 402, openai.APIStatusError, ask(os.environ["AGORA_BROKE_KEY"]))
    limited = ask(os.environ["AGORA_LIMITED_KEY"])
    limited()  # the one call a minute allowed
    expect_error(findings, 429, openai.RateLimitError, limited)
    unavailable = ask(os.environ["OPENAI_API_KEY"], os.environ["AGORA_UNAVAILABLE_MODEL"])
    expect_error(findings, 503, openai.InternalServerError, unavailable)


def main():
    findings = {"openai_version": openai.__version__}
    try:
        client = OpenAI(timeout=60.0)
        chat(findings, client)
        stream(findings, client)
        tools(findings, client)
        embeddings(findings, client)
        models(findings, client)
        errors(findings)
    except Exception:
        print(json.dumps(findings))
        traceback.print_exc()
        sys.exit(1)
    print(json.dumps(findings))


if __name__ == "__main__":
    main()
