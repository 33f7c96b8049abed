"""DB-GPT's flow serve routes (``/api/v1/serve/awel/*`` and ``/api/v2/serve/awel/*``)."""
