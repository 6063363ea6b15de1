"""Door 3: LangChain. ``personalize(...) | any_chat_model`` in LCEL, and a user-scoped retriever.

Runs against any OpenAI-compatible backend through ``langchain-openai`` (``pip install langchain-openai``):

    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 PALIGN_HOME=/tmp/palign-lcel .venv/bin/python examples/lcel_chain.py
"""

import os

from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from palign_rag import Personalizer
from palign_rag.integrations.langchain import PalignRetriever, personalize

personalizer = Personalizer()
personalizer.remember("dana", "I'm vegetarian.")
personalizer.ingest("dana", [{"role": "user", "content": "We hiked up Monte Baldo last weekend."}])

model = ChatOpenAI(
    model=os.environ.get("PALIGN_MODEL", "any-model"),
    base_url=os.environ.get("OPENAI_BASE_URL"),
    api_key=os.environ.get("OPENAI_API_KEY", "not-needed-locally"),
)
prompt = ChatPromptTemplate.from_messages([("system", "You are a travel assistant."), ("human", "{question}")])
chain = prompt | personalize(personalizer, user="dana") | model

print("streamed: ", end="")
for chunk in chain.stream({"question": "Where should we eat near Lake Garda?"}):
    print(chunk.content, end="", flush=True)
print()

retriever = PalignRetriever(personalizer=personalizer, user="dana", k=2)
print("retrieved:", [doc.page_content for doc in retriever.invoke("Which mountain did we climb?")])
