"""DB-GPT's newer web UI (``web`` of dbgpt-app) against the live app: its five main pages
(Chat, Database, Knowledge, Models, AWEL Flow), then the app platform's pages, which must
load with an empty state."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.ui_install import InstalledUI

from .conftest import assert_missing_from_build, browsing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MAIN_PAGES = {
    "/chat": "new-01-chat",
    "/construct/database": "new-02-database",
    "/construct/knowledge": "new-03-knowledge",
    "/construct/models": "new-04-models",
    "/construct/flow": "new-05-flow",
}
#: DB-GPT's app platform, which awel does not have (flows/app_platform): empty pages.
PLATFORM_PAGES = {
    "/": "new-06-home",
    "/construct/app": "new-07-apps",
    "/construct/skills": "new-08-skills",
    "/construct/connectors": "new-09-connectors",
    "/construct/scheduled-tasks": "new-10-scheduled-tasks",
    "/evaluation": "new-11-evaluation",
    "/models_evaluation": "new-12-models-evaluation",
    "/models_evaluation/datasets": "new-13-benchmark-datasets",
    "/construct/agent": "new-14-agents",
    "/construct/dbgpts": "new-15-dbgpts",
    "/conversations": "new-16-conversations",
}


async def test_the_newer_uis_pages(tmp_path: Path, installed_ui: InstalledUI) -> None:
    assert_missing_from_build(installed_ui, "new")
    async with browsing(tmp_path, installed_ui, "new") as ui:
        failures = {path: await ui.visit(path, shot) for path, shot in MAIN_PAGES.items()}
        assert not any(failures.values()), failures
        assert "/api/v2/serve/datasources" in ui.seen.every_path
        failures = {path: await ui.visit(path, shot) for path, shot in PLATFORM_PAGES.items()}
        assert not any(failures.values()), failures
