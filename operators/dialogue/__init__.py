"""Conversations and their messages, as DB-GPT's dialogue API serves them."""
