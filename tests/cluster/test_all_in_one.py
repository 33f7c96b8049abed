"""``awel serve``'s process: the webserver mounts the controller, worker and management
routes over the process's own registry and models, and the model API shares them."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from operators.cluster.state import current_cluster
from operators.cluster.worker import WorkerManager
from server.cluster import ClusterSettings
from server.settings import Settings
from tests.cluster.procs import DATA_DIR, free_port, model_built
from tests.cluster.roles import serving_role

pytestmark = [
    pytest.mark.skipif(not model_built(), reason="smollm2 is not built (make models)"),
    pytest.mark.timeout(120),
]


async def test_all_in_one_serves_the_cluster_in_process(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=DATA_DIR,
        dags_dir=tmp_path / "dags",
        port=free_port(),
        model_api_port=free_port(),
        models=["smollm2"],
        reload=False,
        access_log=False,
    )
    web_url = f"http://127.0.0.1:{settings.port}"
    api_url = f"http://127.0.0.1:{settings.model_api_port}"
    async with serving_role("all-in-one", settings, ClusterSettings()):
        # The manager is this process's, registered in its own registry (no HTTP).
        assert isinstance(current_cluster().manager, WorkerManager)
        async with aiohttp.ClientSession() as http:
            async with http.get(web_url + "/api/controller/models") as r:
                listed = {(i["model_name"], i["port"]) for i in await r.json()}
            assert listed == {
                ("smollm2@llm", settings.port),
                ("WorkerManager@service", settings.port),
            }
            async with http.get(web_url + "/api/v1/model/types") as r:
                assert (await r.json())["data"] == ["smollm2"]
            body = {
                "model": "smollm2",
                "messages": [{"role": "human", "content": "Hi"}],
                "max_new_tokens": 3,
            }
            async with http.post(web_url + "/api/worker/generate_stream", json=body) as r:
                raw = await r.read()
            assert raw.count(b"\0") >= 2 and b'"error_code":0' in raw
            assert all(json.loads(c)["metrics"] is None for c in raw.split(b"\0")[:-1])
            # Asked for, each chunk carries DB-GPT's timings, the last with the usage.
            timed = {**body, "metrics": True}
            async with http.post(web_url + "/api/worker/generate_stream", json=timed) as r:
                chunks = [json.loads(c) for c in (await r.read()).split(b"\0")[:-1]]
            last = chunks[-1]["metrics"]
            assert all(c["metrics"]["start_time_ms"] == last["start_time_ms"] for c in chunks)
            assert last["completion_tokens"] == chunks[-1]["usage"]["completion_tokens"] == 3
            assert last["first_token_time_ms"] >= last["start_time_ms"]
            assert last["end_time_ms"] >= last["first_token_time_ms"]
            # Stopping the model on this host unloads it for the model API too: one set.
            target = {"host": "127.0.0.1", "port": settings.port, "model": "smollm2"}
            async with http.post(web_url + "/api/v1/worker/models/stop", json=target) as r:
                assert (await r.json())["data"] is True
            async with http.get(api_url + "/api/v1/models") as r:
                assert (await r.json())["data"] == []
            async with http.post(web_url + "/api/v1/worker/models/start", json=target) as r:
                assert (await r.json())["data"] is True
            async with http.get(api_url + "/api/v1/models") as r:
                assert [m["id"] for m in (await r.json())["data"]] == ["smollm2"]
