"""The trigger of DB-GPT's POST examples: a JSON body, its summary for the API document."""

from __future__ import annotations

from pydantic import BaseModel

from awel.trigger import HttpTrigger


def example_post(path: str, body: type[BaseModel], summary: str) -> HttpTrigger:
    """``POST /api/v1/awel/trigger<path>`` taking ``body``; its node is called ``trigger``."""
    return HttpTrigger(
        path, methods="POST", request_body=body, summary=summary, task_name="trigger"
    )
