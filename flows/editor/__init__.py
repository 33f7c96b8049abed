"""DB-GPT's editor routes: ``/api/v1/editor/*``, ``/api/v1/sql/editor/submit`` and
``/api/v1/chart/editor/submit``, plus the history, undo and render routes of this server."""
