"""LangChain: a user-scoped retriever over a user's memories, and a runnable that personalizes messages for any
chat model in a chain.

    retriever = PalignRetriever(personalizer=p, user="ana", k=4)
    docs = retriever.invoke("what should I cook tonight?")

    chain = personalize(p, user="ana") | any_chat_model
    for chunk in chain.stream([("human", "What should I cook tonight?")]):
        ...

Both are thin over ``Personalizer.retrieve`` and ``Personalizer.compose``: the same memories, the same policy
envelope and the same trace as the proxy and ``wrap()``. A backing chat model used by the Personalizer itself
is ``palign_rag.LangChainBackend``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, convert_to_messages, convert_to_openai_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from pydantic import ConfigDict, Field

from ..errors import InvalidInputError

if TYPE_CHECKING:
    from ..personalizer import Personalizer
    from ..types import Candidate

__all__ = ["PalignRetriever", "personalize"]


class PalignRetriever(BaseRetriever):
    """The memories of one user most relevant to a query, as LangChain ``Document`` objects, best first.

    Each document's ``page_content`` is the memory's text; ``metadata`` says what it is (``memory_id``, ``kind``,
    ``tier``, ``applies``, ``subject``, ``created_at``) and how it matched (``score``, ``similarity``,
    ``word_match``). Memories the policy blocks, quarantined or superseded ones, and topical preferences the
    query does not touch are never returned. ``k`` may also be given per call: ``invoke(query, k=2)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    personalizer: Any = Field(description="the palign_rag.Personalizer whose memories are searched")
    user: str = Field(description="whose memories: only this user's are ever returned")
    k: int = Field(default=4, gt=0, description="how many documents at most")

    def _search(self, query: str, k: int | None) -> list[Document]:
        personalizer: Personalizer = self.personalizer
        found = personalizer.retrieve(self.user, [{"role": "user", "content": query}], k=self.k if k is None else k)
        return [_document(candidate) for candidate in found]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self._search(query, kwargs.get("k"))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # the embedded store and the embedding model are blocking calls: run them off the event loop
        return await asyncio.to_thread(self._search, query, kwargs.get("k"))


def _document(candidate: Candidate) -> Document:
    memory = candidate.memory
    return Document(
        id=memory.id,
        page_content=memory.text,
        metadata={
            "memory_id": memory.id,
            "kind": memory.kind.value,
            "tier": memory.tier.value,
            "applies": memory.applies,
            "subject": memory.subject,
            "created_at": memory.created_at.isoformat(),
            "score": round(candidate.score, 6),
            "similarity": round(candidate.dense, 6),
            "word_match": candidate.lexical,
        },
    )


def _openai_messages(value: Any) -> list[dict[str, Any]]:
    """Messages in OpenAI form from what a chain passes: a string, a prompt value, messages, (role, text)
    tuples, OpenAI dicts, or a dict holding ``messages``."""
    if isinstance(value, dict) and "messages" in value:
        value = value["messages"]
    if isinstance(value, PromptValue):
        value = value.to_messages()
    if isinstance(value, str):
        value = [("human", value)]
    if not isinstance(value, Sequence):
        raise InvalidInputError(
            f"personalize() takes a string, a prompt value or a list of messages, not {type(value).__name__}."
        )
    messages: list[BaseMessage] = convert_to_messages(value)
    converted = convert_to_openai_messages(messages)
    return [dict(m) for m in converted]


def personalize(personalizer: Personalizer, *, user: str, capture: bool = False) -> RunnableLambda[Any, list[Any]]:
    """A runnable that turns a chain's input messages into the user's composed messages (the policy and the
    relevant memories as the system prompt, then the conversation), ready for any chat model:
    ``personalize(p, user="ana") | chat_model``. Streaming passes through to the model.

    ``capture=True`` also stores the user's turns (``Personalizer.ingest``) when the messages are composed,
    before any model answered; by default the chain stores nothing.
    """

    def compose(value: Any) -> list[BaseMessage]:
        messages = _openai_messages(value)
        composed = personalizer.compose(user, messages)
        if capture:
            personalizer.ingest(user, messages)
        return convert_to_messages(composed.messages)

    async def acompose(value: Any) -> list[BaseMessage]:
        return await asyncio.to_thread(compose, value)

    return RunnableLambda(compose, afunc=acompose, name="palign_personalize")
