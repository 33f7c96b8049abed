"""awel: a dataflow engine of async operators.

>>> from awel import DAG, InputOperator, MapOperator
>>> with DAG("hello") as dag:
...     start = InputOperator.from_callable()
...     greet = MapOperator(lambda name: f"hello, {name}", offload=False)
...     output = start >> greet
>>> import asyncio
>>> asyncio.run(greet.call("world"))
'hello, world'
"""

from .context import EMPTY, SKIP_DATA, DAGContext, current_context
from .dag import DAG, DAGNode, current_dag
from .errors import (
    AwelError,
    DAGBuildError,
    DAGValidationError,
    DeadlineExceeded,
    NodeError,
    Problem,
    RunError,
    SourceLocation,
    SpecError,
)
from .operators import (
    BaseOperator,
    BranchJoinOperator,
    BranchOperator,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    OperatorType,
    ReduceStreamOperator,
    StreamifyAbsOperator,
    TransformStreamAbsOperator,
    TriggerOperator,
    UnstreamifyAbsOperator,
)
from .runner import StreamCall

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "EMPTY",
    "SKIP_DATA",
    "AwelError",
    "BaseOperator",
    "BranchJoinOperator",
    "BranchOperator",
    "DAGBuildError",
    "DAGContext",
    "DAGNode",
    "DAGValidationError",
    "DeadlineExceeded",
    "InputOperator",
    "InputSource",
    "JoinOperator",
    "MapOperator",
    "NodeError",
    "OperatorType",
    "Problem",
    "ReduceStreamOperator",
    "RunError",
    "SourceLocation",
    "SpecError",
    "StreamCall",
    "StreamifyAbsOperator",
    "TransformStreamAbsOperator",
    "TriggerOperator",
    "UnstreamifyAbsOperator",
    "current_context",
    "current_dag",
]
