"""Door 1: the proxy, called with the official ``openai`` client. Change the base URL, nothing else.

Start the proxy in front of any OpenAI-compatible backend, then run this:

    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 .venv/bin/palign serve --port 8000 &
    PALIGN_PROXY_URL=http://127.0.0.1:8000/v1 .venv/bin/python examples/proxy_openai_client.py
"""

import os

import openai

proxy = os.environ.get("PALIGN_PROXY_URL", "http://127.0.0.1:8000/v1")
client = openai.OpenAI(base_url=proxy, api_key=os.environ.get("PALIGN_API_KEY", "no-key-on-loopback"))

# the user's memories, through the proxy's memory API (the openai client can post to any path)
client.post(f"{proxy}/users/dana/memories", body={"text": "I'm allergic to peanuts."}, cast_to=object)

# a chat completion as usual: the `user` field says whose memories personalize it
raw = client.chat.completions.with_raw_response.create(
    model=os.environ.get("PALIGN_MODEL", "any-model"),
    messages=[{"role": "user", "content": "Give me a quick snack idea."}],
    user="dana",
)
reply = raw.parse()
print("answer:", reply.choices[0].message.content)
print("trace id:", raw.headers["X-Palign-Trace-Id"])

# the same request streamed: the chunks are the backend's own
stream = client.chat.completions.create(
    model=os.environ.get("PALIGN_MODEL", "any-model"),
    messages=[{"role": "user", "content": "And one for dessert?"}],
    user="dana",
    stream=True,
)
print("streamed:", "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))

# what personalization put into that prompt, without calling the model
trace = client.get(f"{proxy}/traces/{raw.headers['X-Palign-Trace-Id']}", cast_to=object)
print("memories used:", [c["memory"]["text"] for c in trace["candidates"] if c["decision"] == "used"])
