"""Memory stores: the ``MemoryStore`` protocol and its ChromaDB implementation."""

from .base import Hit, MemoryStore, Recall, ScoredMemory
from .chroma import ChromaStore

__all__ = ["ChromaStore", "Hit", "MemoryStore", "Recall", "ScoredMemory"]
