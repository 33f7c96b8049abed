"""``POST /api/v1/chat/completions``: one chat round of any scene, always streamed.

The stream is DB-GPT's plain form by default (``data:<whole text so far>``, newlines as
``\\n``, no end marker), 0.8.2's full-message JSON with ``stream_format: "json"``, and
OpenAI deltas ending in ``data: [DONE]`` with ``incremental: true``. The scene runs as a
sub-flow of the round (``flows/chat/scenes``); the round is stored once whole. A bad scene
or argument is answered inside the stream, as ``[ERROR]...``.
"""

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import Api
from flows.chat.scenes import SCENES
from operators.chat.request import ConversationVo
from operators.chat.round import FrameRound, PrepareRound, RunScene, SaveRound

# DB-GPT's web client names its user in a header, which wins over the body.
api = Api(
    tags=["Chat"], errors="result", header_fields={"user-id": "user_name"}, stream=ResponseKind.SSE
)

with DAG("chat_completions", description="Chat with a scene (DB-GPT's main chat route).") as dag:
    (
        api.trigger(
            path="/api/v1/chat/completions",
            method="POST",
            body=ConversationVo,
            summary="Chat completions (DB-GPT scenes)",
        )
        >> PrepareRound(task_name="prepare")
        >> RunScene(SCENES, task_name="scene")
        >> SaveRound(task_name="save")
        >> FrameRound(task_name="frame")
    )
