"""Memory stores: the ``MemoryStore`` protocol and its ChromaDB implementation."""

from .base import MemoryStore, ScoredMemory
from .chroma import ChromaStore

__all__ = ["ChromaStore", "MemoryStore", "ScoredMemory"]
