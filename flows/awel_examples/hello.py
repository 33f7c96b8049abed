"""``GET /api/v1/awel/trigger/examples/hello?name=..&age=..``: DB-GPT's first AWEL example.

Answers the JSON string ``"Hello, <name>, your age is <age>"``; ``age`` defaults to 18.
"""

from pydantic import BaseModel, Field

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Person(BaseModel):
    name: str = Field(description="Who to greet.")
    age: int = Field(18, description="Their age.")


class Greet(MapOperator[Person, str]):
    async def map(self, person: Person) -> str:
        return f"Hello, {person.name}, your age is {person.age}"


with DAG("simple_dag_example", description="Greet a person by name and age.") as dag:
    trigger = HttpTrigger(
        "/examples/hello",
        methods="GET",
        request_body=Person,
        summary="Say hello",
        task_name="trigger",
    )
    trigger >> Greet(task_name="greet")
