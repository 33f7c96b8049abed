"""DB-GPT's feedback routes (``/api/v1/feedback/*``)."""
