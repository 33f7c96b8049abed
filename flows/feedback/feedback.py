"""DB-GPT's feedback routes, ``/api/v1/feedback/*``, one flow each (app ``Result``):
the question kinds a rating may name, committing a rating of a round, finding it again."""

from __future__ import annotations

from dataclasses import replace

from awel.trigger import ResponseKind
from flows._route import Api
from operators.feedback import manage
from operators.feedback.requests import FeedbackBody, FeedbackQuery

api = Api(
    prefix="/api/v1/feedback", tags=["Feedback"], response=ResponseKind.RESULT, errors="result"
)
# DB-GPT's web client names its user in a header, which wins over the body.
user_api = replace(api, header_fields={"user-id": "user_name"})

feedback_select = api.flow(
    dag_id="feedback_select",
    path="/select",
    method="GET",
    body=None,
    action=manage.select,
    summary="The kinds of question a rating names",
)
feedback_commit = user_api.flow(
    dag_id="feedback_commit",
    path="/commit",
    method="POST",
    body=FeedbackBody,
    action=manage.commit,
    summary="Rate a round of a conversation",
)
feedback_find = api.flow(
    dag_id="feedback_find",
    path="/find",
    method="GET",
    body=FeedbackQuery,
    action=manage.find,
    summary="A round's rating (null: none yet)",
)
