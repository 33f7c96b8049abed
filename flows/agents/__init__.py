"""The agent routes: DB-GPT's plugin hub (``/api/v1/agent/*``) and its dbgpts store
(``/api/v1/serve/dbgpts/*``)."""
