"""The OpenAI-compatible model API (port 8100): one flow per route."""
