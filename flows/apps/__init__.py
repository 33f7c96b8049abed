"""DB-GPT's app routes (``/api/v1/app/list``, ``/api/v1/dbgpts/list``)."""
