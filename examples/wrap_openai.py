"""Door 2: ``wrap()`` the official ``openai`` client in your own process. No server.

Point it at any OpenAI-compatible backend (OpenAI itself, vLLM, llama.cpp's server ...):

    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 PALIGN_HOME=/tmp/palign-wrap .venv/bin/python examples/wrap_openai.py
"""

import os

import openai

from palign_rag import Personalizer, wrap

personalizer = Personalizer()  # embedded Chroma in $PALIGN_HOME, bundled embedding model, default policy
personalizer.remember("dana", "Please keep answers under three sentences.")

client = wrap(openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY", "not-needed-locally")), personalizer, user="dana")
reply = client.chat.completions.create(
    model=os.environ.get("PALIGN_MODEL", "any-model"),
    messages=[{"role": "user", "content": "I just moved to Lisbon. What should I see first?"}],
)
print("answer:", reply.choices[0].message.content)
assert client.last_trace is not None
print("memories used:", [c.memory.text for c in client.last_trace.used()])

client.flush()  # the user's turn is stored off the call's path; wait for it before exiting
print("memories:", [m.text for m in personalizer.memories("dana")])
