"""palign-rag in a dozen lines: remember, ingest, compose, inspect. Runs offline.

PALIGN_HOME=/tmp/palign-quickstart .venv/bin/python examples/quickstart.py
"""

from palign_rag import Personalizer

p = Personalizer()  # embedded store in $PALIGN_HOME, bundled embedding model, default policy

p.remember("dana", "I'm allergic to peanuts.")
p.ingest(
    "dana",
    [
        {"role": "user", "content": "I prefer recipes that take under 30 minutes. What can I make with lentils?"},
        {"role": "assistant", "content": "A quick lentil curry or a lentil salad."},
        {"role": "user", "content": "The curry sounds good!"},
    ],
)

prompt = p.compose(
    "dana",
    [
        {"role": "system", "content": "You are a cooking assistant."},
        {"role": "user", "content": "Give me a quick dinner idea with lentils"},
    ],
)
print(prompt.system_prompt)
print()
for candidate in prompt.trace.candidates:
    print(f"{candidate.decision:<18} score={candidate.score:.3f}  {candidate.memory.text}")

# Forward prompt.messages to any LLM, or let palign-rag do it: p.chat("dana", messages)
