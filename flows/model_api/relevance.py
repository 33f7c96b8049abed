"""``POST /api/v1/beta/relevance``: DB-GPT's relevance scores of documents to a query
(cosine similarities of an embedding model: awel serves no rerankers)."""

from __future__ import annotations

from awel import DAG
from flows.model_api._api import api
from operators.embed.operators import Embed
from operators.openai.relevance import RelevanceAnswer, RelevanceRequest, RelevanceTexts

with DAG("openai_relevance", description="DB-GPT's relevance scores.") as dag:
    trigger = api.trigger(
        path="/api/v1/beta/relevance",
        method="POST",
        body=RelevanceRequest,
        summary="Relevance of documents to a query",
    )
    (
        trigger
        >> RelevanceTexts(task_name="texts")
        >> Embed(task_name="embed")
        >> RelevanceAnswer(task_name="answer")
    )
