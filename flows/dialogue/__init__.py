"""DB-GPT's dialogue routes (``/api/v1/chat/dialogue/*``), one flow each."""
