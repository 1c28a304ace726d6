"""Chat models: llama.cpp in-process, or any OpenAI-compatible server. Streaming token iterators."""
