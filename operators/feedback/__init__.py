"""Ratings of chat rounds: DB-GPT's feedback API (``/api/v1/feedback/*``). The records are
``store.feedback`` (:mod:`operators.storage.feedback`)."""
