"""palign-rag: personalized alignment for any LLM, without touching model weights.

Start with ``Personalizer``::

    from palign_rag import Personalizer

    p = Personalizer()                      # embedded store in $PALIGN_HOME, bundled models
    p.remember("alice", "I prefer short answers with code examples.")
    prompt = p.compose("alice", [{"role": "user", "content": "How do I read a CSV?"}])
    print(prompt.system_prompt)             # what was composed
    print(prompt.trace.used())              # and why
"""

from .backends import Backend, Completion, FunctionBackend, LangChainBackend, LocalBackend, OpenAIBackend
from .config import Settings
from .embed import Embedder, FakeEmbedder, SentenceTransformerEmbedder
from .errors import (
    BackendError,
    InvalidInputError,
    MissingUserError,
    ModelNotFoundError,
    PalignError,
    PersonalDataError,
    PolicyViolationError,
    RuntimeFailure,
    StoreError,
    UsageError,
)
from .integrations.openai_client import wrap
from .onnx_embed import OnnxEmbedder, default_embedder
from .personalizer import IngestReport, Personalizer
from .policy import Policy
from .retrieve import SelectionConfig
from .store import ChromaStore, MemoryStore
from .types import (
    Candidate,
    ChatResult,
    ComposedPrompt,
    Memory,
    MemoryKind,
    MemorySource,
    MemoryStatus,
    Scope,
    Trace,
)
from .understand import LocalUnderstander, Understanding
from .understand.llm import LLMUnderstander, Understander

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "Candidate",
    "ChatResult",
    "ChromaStore",
    "Completion",
    "ComposedPrompt",
    "Embedder",
    "FakeEmbedder",
    "FunctionBackend",
    "IngestReport",
    "InvalidInputError",
    "LLMUnderstander",
    "LangChainBackend",
    "LocalBackend",
    "LocalUnderstander",
    "Memory",
    "MemoryKind",
    "MemorySource",
    "MemoryStatus",
    "MemoryStore",
    "MissingUserError",
    "ModelNotFoundError",
    "OnnxEmbedder",
    "OpenAIBackend",
    "PalignError",
    "PersonalDataError",
    "Personalizer",
    "Policy",
    "PolicyViolationError",
    "RuntimeFailure",
    "Scope",
    "SelectionConfig",
    "SentenceTransformerEmbedder",
    "Settings",
    "StoreError",
    "Trace",
    "Understander",
    "Understanding",
    "UsageError",
    "__version__",
    "default_embedder",
    "wrap",
]
