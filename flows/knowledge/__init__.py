"""The knowledge routes: DB-GPT's ``/api/v1/knowledge/*`` (also at the old web UI's
``/knowledge/*``) and ``/api/v2/serve/knowledge/*``."""
