"""Flow sources the server tests write into a temporary dags directory."""

STREAM = """
from collections.abc import AsyncIterator
from pydantic import BaseModel
from awel import DAG, StreamifyAbsOperator
from awel.trigger import HttpTrigger


class Ask(BaseModel):
    n: int = 3
    fail_at: int = -1
    stream: bool = True


class Count(StreamifyAbsOperator[Ask, str]):
    async def streamify(self, ask: Ask) -> AsyncIterator[str]:
        for i in range(ask.n):
            if i == ask.fail_at:
                raise ValueError("broke at " + str(i))
            yield "item " + str(i)


with DAG("count") as dag:
    t = HttpTrigger("/count", methods="POST", request_body=Ask, sse_end="[DONE]")
    t >> Count(task_name="count")
"""

NUL = """
from collections.abc import AsyncIterator
from awel import DAG, StreamifyAbsOperator
from awel.trigger import HttpTrigger


class Chunks(StreamifyAbsOperator[dict, dict]):
    async def streamify(self, body: dict) -> AsyncIterator[dict]:
        text = ""
        for word in ["a", "b", "c"]:
            text += word
            yield {"text": text, "error_code": 0}


with DAG("nul") as dag:
    t = HttpTrigger("/nul", methods="POST", request_body=dict, streaming_response=True,
                    stream_response="nul_json")
    t >> Chunks(task_name="chunks")
"""

FAIL = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Boom(MapOperator[dict, int]):
    async def map(self, body: dict) -> int:
        return 1 // 0


with DAG("boom") as dag:
    t = HttpTrigger("/boom", methods="POST", request_body=dict)
    t >> Boom(task_name="divide")
"""

ECHO = """
from pydantic import BaseModel
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Body(BaseModel):
    name: str
    tags: list[str] = []
    count: int = 1


class Echo(MapOperator[Body, dict]):
    async def map(self, body: Body) -> dict:
        return body.model_dump()


with DAG("echo") as dag:
    t = HttpTrigger("/echo", methods=["POST", "PUT"], request_body=Body, response="result")
    t >> Echo(task_name="echo")
"""

SLOW = """
import anyio
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger

STATE = {"started": 0, "cancelled": 0}


class Slow(MapOperator[dict, str]):
    async def map(self, body: dict) -> str:
        STATE["started"] += 1
        try:
            await anyio.sleep(30)
        except BaseException:
            STATE["cancelled"] += 1
            raise
        return "late"


with DAG("slow") as dag:
    t = HttpTrigger("/slow", methods="POST", request_body=dict)
    t >> Slow(task_name="slow")
"""

FILE = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Export(MapOperator[dict, tuple]):
    async def map(self, body: dict) -> tuple:
        return ("report.csv", ("a,b\\n" + body.get("row", "1,2") + "\\n").encode())


with DAG("export") as dag:
    t = HttpTrigger("/export", methods="POST", request_body=dict, response="file",
                    response_media_type="text/csv")
    t >> Export(task_name="export")
"""

TICKS = """
from collections.abc import AsyncIterator
import anyio
from awel import DAG, StreamifyAbsOperator
from awel.trigger import HttpTrigger


class Ticks(StreamifyAbsOperator[dict, str]):
    async def streamify(self, body: dict) -> AsyncIterator[str]:
        yield "first"
        await anyio.sleep(0.35)
        yield "second"


with DAG("ticks") as dag:
    t = HttpTrigger("/ticks", methods="POST", request_body=dict, streaming_response=True)
    t >> Ticks(task_name="ticks")
"""

REFUSE = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger
from awel.errors import AwelError


class Refuse(MapOperator[dict, int]):
    async def map(self, body: dict) -> int:
        raise AwelError("no such shelf: 'x'", code="not_found.shelf", param="shelf")


with DAG("refuse") as dag:
    t = HttpTrigger("/refuse", methods="POST", request_body=dict)
    t >> Refuse(task_name="refuse")
"""

UNAVAILABLE = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger
from operators.cluster.remote import NoInstance


class Route(MapOperator[dict, int]):
    async def map(self, body: dict) -> int:
        raise NoInstance("m", [])


with DAG("unavailable") as dag:
    t = HttpTrigger("/unavailable", methods="POST", request_body=dict)
    t >> Route(task_name="route")
"""

WHO = """
from pydantic import BaseModel

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Who(BaseModel):
    user_name: str = "001"
    text: str = ""


class Greet(MapOperator[Who, str]):
    async def map(self, who: Who) -> str:
        return who.user_name + ": " + who.text


with DAG("who") as dag:
    t = HttpTrigger(
        "/who", methods="POST", request_body=Who, header_fields={"user-id": "user_name"}
    )
    t >> Greet(task_name="greet")
"""

TOO_LONG = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger
from operators.llm.engine import InvalidRequest


class Engine(MapOperator[dict, int]):
    async def map(self, body: dict) -> int:
        raise InvalidRequest("prompt", "2,100 tokens; the model reads at most 2,048")


with DAG("too_long") as dag:
    t = HttpTrigger("/too_long", methods="POST", request_body=dict)
    t >> Engine(task_name="llm")
"""
