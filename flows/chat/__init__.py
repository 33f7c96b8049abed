"""DB-GPT's chat: the completions routes (v1 and v2), the scene routes, and the scenes,
each a flow (``scenes/``)."""
