"""The bodies of DB-GPT's editor routes (``/api/v1/editor/*`` and the two submits)."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

_CONV = AliasChoices("conv_uid", "con_uid")


class TablesQuery(BaseModel):
    db_name: str = Field(description="The datasource.")
    page_index: int = Field(1, ge=1, description="The page, from 1.")
    page_size: int = Field(20, ge=1, le=1000, description="Tables per page.")
    search_str: str = Field("", description="Only tables whose name, or a column's, has this.")


class ConvQuery(BaseModel):
    con_uid: str = Field(description="The conversation (DB-GPT's spelling).")


class RoundQuery(BaseModel):
    con_uid: str = Field(description="The conversation (DB-GPT's spelling).")
    round: int = Field(ge=1, description="The round, from 1.")


class RunBody(BaseModel):
    """``sql/run`` and ``chart/run``: DB-GPT sends a free dict."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    db_name: str | None = Field(None, description="The datasource (or give conv_uid).")
    conv_uid: str | None = Field(
        None, validation_alias=_CONV, description="A conversation whose datasource to use."
    )
    sql: str | None = Field(None, description="One statement.")
    chart_type: str | None = Field(None, description="chart/run: line, bar, pie, scatter ...")
    chart_title: str | None = Field(None, description="chart/run: a title for the chart.")


class SqlSubmit(BaseModel):
    """DB-GPT's ``ChatSqlEditContext``."""

    conv_uid: str = Field(validation_alias=_CONV)
    db_name: str = ""
    conv_round: int = Field(ge=1, description="The round to rewrite.")
    old_sql: str = ""
    old_speak: str = ""
    gmt_create: int = 0
    new_sql: str = Field(description="The SQL to store in the round.")
    new_speak: str = Field("", description="New thoughts; empty keeps the stored ones.")


class ChartInfoBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    con_uid: str = Field(validation_alias=AliasChoices("con_uid", "conv_uid"))
    chart_title: str


class ChartSubmit(BaseModel):
    """DB-GPT's ``ChatChartEditContext``."""

    conv_uid: str = Field(validation_alias=_CONV)
    chart_title: str = Field(description="The chart to rewrite (its title).")
    db_name: str = ""
    old_sql: str = ""
    new_chart_type: str = Field(description="line, bar, pie, scatter, table ...")
    new_sql: str = Field(description="The chart's new query.")
    new_comment: str = Field("", description="New description; empty keeps the stored one.")
    gmt_create: int = 0


class UndoBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    conv_uid: str = Field(validation_alias=_CONV, description="The conversation.")
    round: int = Field(ge=1, description="The edited round (sql/rounds or chart/list say it).")


class RenderQuery(BaseModel):
    format: str = Field("png", description="png or svg.")
    db_name: str | None = Field(None, description="With sql and chart_type: draw a query.")
    sql: str | None = None
    chart_type: str | None = None
    con_uid: str | None = Field(None, description="With chart_title or round: a stored chart.")
    chart_title: str | None = None
    round: int | None = Field(None, ge=1)
