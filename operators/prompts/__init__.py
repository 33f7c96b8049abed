"""Stored prompt templates: DB-GPT's prompt API (``/prompt/*``) and their use in a chat round
(``prompt_code``). The records are ``store.prompts`` (:mod:`operators.storage.prompts`)."""
