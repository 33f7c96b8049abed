"""The app platform's listings, each empty in the shape DB-GPT's newer web UI reads, and
its actions, each refused with ``platform.not_supported`` in the envelope (HTTP 200)."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api
from operators import app_platform as platform
from operators.app_platform import Anything, PageQuery

#: The app API's envelope (host_name included), and the serve modules' (v2).
app_api = Api(
    tags=["App platform"], response=ResponseKind.RESULT, errors="result", ok_failures=("",)
)
serve_api = Api(tags=["App platform"], response=ResponseKind.SERVE_RESULT, ok_failures=("",))

hot_questions = app_api.flow(
    dag_id="platform_question_list",
    path="/api/v1/question/list",
    method="GET",
    body=None,
    action=platform.empty_list,
    summary="Recommended questions (none)",
)
hot_apps = app_api.flow(
    dag_id="platform_app_hot_list",
    path="/api/v1/app/hot/list",
    method="POST",
    body=PageQuery,
    action=platform.empty_app_page,
    summary="Hot apps (none)",
)
skills = app_api.flow(
    dag_id="platform_skills_list",
    path="/api/v1/skills/list",
    method="GET",
    body=None,
    action=platform.empty_list,
    summary="Skills (none)",
)
evaluations = app_api.flow(
    dag_id="platform_evaluations",
    path="/api/v1/evaluate/evaluations",
    method="GET",
    body=PageQuery,
    action=platform.empty_page,
    summary="Evaluations (none)",
)
evaluation_datasets = app_api.flow(
    dag_id="platform_evaluation_datasets",
    path="/api/v1/evaluate/datasets",
    method="GET",
    body=PageQuery,
    action=platform.empty_page,
    summary="Evaluation datasets (none)",
)
benchmark_tasks = app_api.flow(
    dag_id="platform_benchmark_tasks",
    path="/api/v1/evaluate/benchmark_task_list",
    method="GET",
    body=PageQuery,
    action=platform.empty_page,
    summary="Benchmark tasks (none)",
)
evaluation_start = app_api.flow(
    dag_id="platform_evaluation_start",
    path="/api/v1/evaluate/start",
    method="POST",
    body=Anything,
    action=platform.not_supported("Evaluations"),
    summary="Start an evaluation (not supported)",
)
benchmark_datasets = serve_api.flow(
    dag_id="platform_benchmark_datasets",
    path="/api/v2/serve/evaluate/benchmark/list_datasets",
    method="GET",
    body=None,
    action=platform.empty_list,
    summary="Benchmark datasets (none)",
)
connectors = serve_api.flow(
    dag_id="platform_connectors",
    path="/api/v2/serve/connectors/",
    method="GET",
    body=None,
    action=platform.empty_list,
    summary="Connectors (none)",
)
connector_types = serve_api.flow(
    dag_id="platform_connector_types",
    path="/api/v2/serve/connectors/types",
    method="GET",
    body=None,
    action=platform.empty_list,
    summary="Connector types (none)",
)
connector_confirms = serve_api.flow(
    dag_id="platform_connector_confirms",
    path="/api/v2/serve/connectors/pending-confirms",
    method="GET",
    body=None,
    action=platform.empty_list,
    summary="Connector confirmations waiting (none)",
)
connector_create = serve_api.flow(
    dag_id="platform_connector_create",
    path="/api/v2/serve/connectors/",
    method="POST",
    body=Anything,
    action=platform.not_supported("Connectors"),
    summary="Add a connector (not supported)",
)
scheduled_tasks = serve_api.flow(
    dag_id="platform_scheduled_tasks",
    path="/api/v2/serve/scheduled-tasks/",
    method="GET",
    body=None,
    action=platform.empty_list,
    summary="Scheduled tasks (none)",
)
scheduled_task_create = serve_api.flow(
    dag_id="platform_scheduled_task_create",
    path="/api/v2/serve/scheduled-tasks/",
    method="POST",
    body=Anything,
    action=platform.not_supported("Scheduled tasks"),
    summary="Schedule a task (not supported)",
)
