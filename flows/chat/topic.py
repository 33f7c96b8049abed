"""``POST /api/v1/chat/topic/terminate`` (app ``Result``): stop a conversation's running
round; an unknown conversation is DB-GPT's HTTP 200 failure ``E0102``."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api
from operators.chat import topic

api = Api(
    tags=["Chat"], response=ResponseKind.RESULT, errors="result", ok_failures=("chat.topic_",)
)

topic_terminate = api.flow(
    dag_id="chat_topic_terminate",
    path="/api/v1/chat/topic/terminate",
    method="POST",
    body=topic.TopicQuery,
    action=topic.terminate,
    summary="Stop a conversation's running round",
)
