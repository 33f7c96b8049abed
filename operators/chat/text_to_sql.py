"""``text_to_sql``: a question in, the rows that answer it out, as one operator.

The chain of the Chat Data scene (``chat_with_db_execute``) without the chat round around
it: the summaries of the tables the question is about, a prompt asking for the JSON
``{thoughts, sql, display_type, direct_response}`` (guided by its schema), the model's
answer read robustly, its SQL through the datasource's gate and read-only sandbox, and
the rows.

    nodes:
      answer: {op: text_to_sql, params: {datasource: shop, max_tokens: 128}}

The output is ``{question, thoughts, sql, rows, answer}``: ``answer`` is the model's words
when it chose not to write SQL (the question does not fit the schema), with no rows.
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError
from pydantic import Field, field_validator

from awel import MapOperator
from awel.builtin import compile_template
from awel.errors import AwelError
from awel.registry import OperatorParams
from operators.datasource.connector import connector_for
from operators.datasource.gate import DEFAULT_MAX_ROWS
from operators.datasource.operators import question_of, rows_of, schema_summary
from operators.llm.prompt_ops import PromptFailed
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest
from operators.models import current_models
from operators.storage import current_store

from .answer import SQL_ANSWER_SCHEMA, guided_params, parse_sql_answer

__all__ = ["DEFAULT_PROMPT", "NoSQLAnswer", "TextToSql", "TextToSqlParams"]

#: The system prompt when a flow gives none (the Chat Data scene's, without its charts).
DEFAULT_PROMPT = """\
You are a {{ db_type }} SQL expert. Write one read-only SQL query (SELECT) that answers the \
user's question, using only the tables and columns in the schema below. Return at most \
{{ max_rows }} rows unless the question asks for fewer. If the question cannot be answered \
with this schema, leave "sql" empty and explain in "direct_response".

Schema of the database "{{ db_name }}":
{{ schema }}

Answer with one JSON object and nothing else, in this form:
{"thoughts": "<how you answer, in one sentence>", "sql": "<the SQL query>", \
"display_type": "response_table", "direct_response": ""}"""


class NoSQLAnswer(AwelError):
    """The model's answer held no usable SQL (nor words instead)."""

    code = "sql.no_answer"


class TextToSqlParams(OperatorParams):
    """The datasource, the model's settings and the query's limits."""

    datasource: str = Field(
        min_length=1, description="The registered datasource's name (its db_name)."
    )
    model: str | None = Field(None, description="The model that writes the SQL (default: first).")
    max_tokens: int = Field(256, ge=16, le=4096, description="Most tokens of the model's answer.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    max_rows: int = Field(
        200, ge=1, le=DEFAULT_MAX_ROWS, description="Rows returned at most (a LIMIT is added)."
    )
    top_k: int = Field(5, ge=1, le=50, description="Tables described in the prompt at most.")
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds the statement may run.")
    prompt: str = Field(
        DEFAULT_PROMPT,
        description="The system prompt, a jinja2 template over schema, question, db_name,"
        " db_type and max_rows.",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_compiles(cls, v: str) -> str:
        try:
            compile_template(v)
        except TemplateSyntaxError as exc:
            raise ValueError(f"invalid template (line {exc.lineno}): {exc.message}") from None
        return v


class TextToSql(MapOperator[str | dict[str, Any], dict[str, Any]]):
    """A question in; the checked SQL the model wrote for it and its rows out."""

    Params = TextToSqlParams

    def __init__(self, settings: TextToSqlParams, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self._prompt = compile_template(settings.prompt)

    @classmethod
    def from_params(cls, params: TextToSqlParams, **kwargs: Any) -> TextToSql:
        return cls(params, **kwargs)

    async def _ask(self, system: str, question: str) -> str:
        s = self.settings
        model = current_models().llm(s.model)
        params = guided_params(
            GenerationParams(max_new_tokens=s.max_tokens, temperature=s.temperature),
            SQL_ANSWER_SCHEMA,
        )
        messages = [
            ChatMessage(role="system", content=system),
            ChatMessage(role="user", content=question),
        ]
        request = GenerationRequest(model=model.name, messages=messages, params=params)
        return (await model.generate(request)).text

    async def map(self, input_value: str | dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        question = question_of(input_value)
        ds = await current_store().datasources.require(s.datasource)
        schema = await schema_summary(ds, question, top_k=s.top_k)
        try:
            system = self._prompt.render(
                schema=schema,
                question=question,
                db_name=ds.db_name,
                db_type=ds.db_type,
                max_rows=s.max_rows,
            ).strip()
        except TemplateError as exc:
            raise PromptFailed(f"the prompt cannot be rendered: {exc.message}") from None
        answer = parse_sql_answer(await self._ask(system, question))
        out: dict[str, Any] = {
            "question": question,
            "thoughts": answer.thoughts,
            "sql": "",
            "rows": [],
            "answer": answer.direct_response,
        }
        if answer.problem is not None:
            raise NoSQLAnswer(f"{answer.problem}; the model said: {answer.thoughts[:200]!r}")
        if not answer.sql:
            return out
        result = await connector_for(ds).run_query(
            answer.sql, max_rows=s.max_rows, timeout=s.timeout
        )
        out["sql"] = result.sql
        out["rows"] = rows_of(result)
        return out
