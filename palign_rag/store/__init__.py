"""Memory stores: the ``MemoryStore`` protocol and its ChromaDB implementation."""

from .base import MemoryStore, Recall, ScoredMemory
from .chroma import ChromaStore

__all__ = ["ChromaStore", "MemoryStore", "Recall", "ScoredMemory"]
