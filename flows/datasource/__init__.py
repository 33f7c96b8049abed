"""The datasource routes: DB-GPT's ``/api/v1/chat/db/*`` and ``/api/v2/serve/datasources``."""
