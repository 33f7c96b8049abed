"""DB-GPT's prompt routes (``/prompt/*``)."""
