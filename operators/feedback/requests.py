"""The bodies of DB-GPT's feedback routes: its ``FeedBackBody``, each field bounded so that
a caller cannot store more than a rating needs (docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["MAX_TEXT", "FeedbackBody", "FeedbackQuery"]

#: The longest question, comment or remark stored, in characters.
MAX_TEXT = 10_000


class FeedbackBody(BaseModel):
    conv_uid: str = Field(..., min_length=1, max_length=128, description="The conversation.")
    conv_index: int = Field(..., ge=1, description="The round (1-based, as messages' order).")
    score: int = Field(..., ge=0, le=5, description="The rating, 0 to 5.")
    ques_type: str = Field("", max_length=64, description="A key of GET feedback/select.")
    question: str = Field("", max_length=MAX_TEXT, description="The round's question.")
    knowledge_space: str | None = Field(None, max_length=128)
    messages: str | None = Field(None, max_length=MAX_TEXT, description="The user's comment.")
    remark: str | None = Field(None, max_length=MAX_TEXT)
    user_name: str | None = Field(None, max_length=128)


class FeedbackQuery(BaseModel):
    conv_uid: str = Field(..., min_length=1, max_length=128)
    conv_index: int = Field(..., ge=1)
