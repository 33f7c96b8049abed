"""The agent routes: DB-GPT's ``/api/v1/agent/*`` and dbgpts' ``/api/v1/serve/dbgpts/*``."""
