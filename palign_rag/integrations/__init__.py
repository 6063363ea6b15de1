"""Integrations with other libraries (OpenAI client wrapper, LangChain)."""
