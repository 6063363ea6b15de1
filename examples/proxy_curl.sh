#!/usr/bin/env bash
# Door 1 with curl: the proxy speaks the OpenAI API. Start it first (see proxy_openai_client.py), then:
#   PALIGN_PROXY_URL=http://127.0.0.1:8000/v1 ./examples/proxy_curl.sh
set -euo pipefail
proxy=${PALIGN_PROXY_URL:-http://127.0.0.1:8000/v1}
key=${PALIGN_API_KEY:-no-key-on-loopback}

# store a preference for user "dana"
curl -sS -X POST "$proxy/users/dana/memories" -H "Authorization: Bearer $key" \
  -H "Content-Type: application/json" -d '{"text": "Metric units from now on."}'
echo

# a personalized chat completion; the user comes from the X-Palign-User header (or the body's "user")
curl -sS -D /dev/stderr "$proxy/chat/completions" -H "Authorization: Bearer $key" -H "X-Palign-User: dana" \
  -H "Content-Type: application/json" \
  -d '{"model": "any-model", "messages": [{"role": "user", "content": "How far is a half marathon?"}]}'
echo

# the composed prompt and its trace, without calling the model
curl -sS "$proxy/inspect" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -d '{"user": "dana", "messages": [{"role": "user", "content": "How heavy is a bowling ball?"}]}'
echo
