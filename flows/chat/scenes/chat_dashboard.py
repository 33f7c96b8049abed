"""chat_dashboard: the model proposes several charts (title, SQL, showcase, thoughts); each
SQL runs through the gate on its own, and the view is DB-GPT's JSON report."""

from flows.chat.scenes._build import PROMPTS, asks_model
from operators.chat.scene_ops import DashboardRound
from operators.chat.scenes import Scene

scene = Scene(
    "chat_dashboard",
    "Dashboard",
    "Describe a report: the model proposes several charts, each one backed by a"
    " query on your database.",
    needs="db",
    v2_modes=("chat_dashboard",),
    prompt=PROMPTS / "dashboard.j2",
    flow=asks_model("Several charts, each with its SQL.", DashboardRound),
)
