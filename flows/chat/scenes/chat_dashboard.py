"""chat_dashboard: the model proposes several charts (title, SQL, showcase, thoughts); each
SQL runs through the gate on its own, and the view is DB-GPT's JSON report."""

from awel import DAG, InputOperator
from flows.chat.scenes._prompts import PROMPTS
from operators.chat.answer import DASHBOARD_SCHEMA
from operators.chat.scene_ops import AskModel, DashboardRound, Prompt, SchemaOf
from operators.chat.scenes import Scene

PROMPT = PROMPTS / "dashboard.j2"


def flow() -> DAG:
    with DAG("scene_chat_dashboard", description="Several charts, each with its SQL.") as dag:
        (
            InputOperator.from_callable(task_name="input")
            >> SchemaOf(task_name="schema")
            >> Prompt(PROMPT, json_schema=DASHBOARD_SCHEMA, task_name="prompt")
            >> AskModel(draft=True, task_name="model")
            >> DashboardRound(task_name="answer")
        )
    return dag


scene = Scene(
    "chat_dashboard",
    "Dashboard",
    "Describe a report: the model proposes several charts, each one backed by a"
    " query on your database.",
    ("DB Select",),
    needs="db",
    v2_modes=("chat_dashboard",),
    prompt=PROMPT,
    flow=flow,
)
