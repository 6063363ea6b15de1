"""LangChain: ``PalignRetriever`` against the standard retriever suite of ``langchain-tests``, and the
``personalize`` runnable in LCEL chains (sync, async, streaming). Real Chroma in memory, the bundled embedder."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel, ParrotFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_tests.integration_tests import RetrieversIntegrationTests

from palign_rag import ChromaStore, Embedder, InvalidInputError, Personalizer, default_embedder
from palign_rag.integrations.langchain import PalignRetriever, personalize

TRIPS = [
    "We took the night train to Vienna in March.",
    "The ferry to Split was late by two hours.",
    "I rented a bike in Amsterdam for the whole week.",
    "Our flight to Lisbon was cancelled in May.",
    "The bus from Porto to Braga took an hour.",
]


@cache
def _personalizer() -> Personalizer:
    personalizer = Personalizer(store=ChromaStore.in_memory(), embedder=default_embedder())
    personalizer.ingest("rae", [{"role": "user", "content": text} for text in TRIPS])
    personalizer.ingest("sol", [{"role": "user", "content": "My trip to Oslo was by plane."}])
    return personalizer


class TestPalignRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[PalignRetriever]:
        return PalignRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"personalizer": _personalizer(), "user": "rae"}

    @property
    def retriever_query_example(self) -> str:
        return "How did we travel on our trips?"


def test_the_retriever_returns_only_that_users_memories_with_metadata() -> None:
    docs = PalignRetriever(personalizer=_personalizer(), user="rae", k=5).invoke("trip by plane to Oslo")
    assert docs and all("Oslo" not in d.page_content for d in docs)
    assert {d.page_content for d in docs} <= set(TRIPS)
    first = docs[0].metadata
    assert first["memory_id"] == docs[0].id and first["kind"] in ("episode", "fact") and first["similarity"] > 0
    only = PalignRetriever(personalizer=_personalizer(), user="sol").invoke("trip by plane")
    assert [d.page_content for d in only] == ["My trip to Oslo was by plane."]


def test_the_retriever_is_async_and_rejects_a_bad_k() -> None:
    retriever = PalignRetriever(personalizer=_personalizer(), user="rae", k=2)
    docs = asyncio.run(retriever.ainvoke("the ferry to Split"))
    assert len(docs) == 2 and "Split" in docs[0].page_content
    with pytest.raises(ValueError, match="greater than 0"):
        PalignRetriever(personalizer=_personalizer(), user="rae", k=0)
    with pytest.raises(InvalidInputError, match="positive number"):
        retriever.invoke("the ferry", k=0)


@pytest.fixture
def personalizer(real_embedder: Embedder) -> Personalizer:
    p = Personalizer(store=ChromaStore.in_memory(), embedder=real_embedder)
    p.remember("ana", "Always answer in French.")
    return p


def test_personalize_composes_messages_for_any_chat_model(personalizer: Personalizer) -> None:
    chain = personalize(personalizer, user="ana") | ParrotFakeChatModel()
    echoed = chain.invoke([("human", "What is the capital of Peru?")])
    assert isinstance(echoed, HumanMessage) and echoed.content == "What is the capital of Peru?"
    messages = personalize(personalizer, user="ana").invoke("What is the capital of Peru?")
    assert isinstance(messages[0], SystemMessage) and "French" in str(messages[0].content)
    assert isinstance(messages[-1], HumanMessage)


def test_personalize_streams_and_runs_async_after_a_prompt_template(personalizer: Personalizer) -> None:
    model = GenericFakeChatModel(messages=iter(["Lima est la capitale.", "Lima."]))
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    chain = prompt | personalize(personalizer, user="ana") | model
    chunks = list(chain.stream({"question": "Capital of Peru?"}))
    assert len(chunks) > 1 and "".join(str(c.content) for c in chunks) == "Lima est la capitale."
    answer = asyncio.run(chain.ainvoke({"question": "Capital of Peru?"}))
    assert isinstance(answer, AIMessage) and answer.content == "Lima."


def test_personalize_keeps_the_conversation_and_captures_only_when_asked(personalizer: Personalizer) -> None:
    history = [("human", "I have a cat named Miso."), ("ai", "Nice!"), ("human", "Any name ideas for a dog?")]
    messages = personalize(personalizer, user="ana").invoke(history)
    assert [type(m) for m in messages[1:]] == [HumanMessage, AIMessage, HumanMessage]
    assert all("Miso" not in m.text for m in personalizer.memories("ana"))
    personalize(personalizer, user="ana", capture=True).invoke(history)
    assert any("Miso" in m.text for m in personalizer.memories("ana"))
    with pytest.raises(InvalidInputError, match="list of messages"):
        personalize(personalizer, user="ana").invoke(42)
