"""What the editor routes share: DB-GPT's app ``Result``, and its failures with HTTP 200.

Like DB-GPT, a failure the flow raises (an unknown round, a refused statement) is a failure
envelope with HTTP 200, its ``err_msg`` naming the field: DB-GPT's web UI reads the
envelope, not the status. A request that cannot be parsed is still a 400, and a route
answering a file (``response=ResponseKind.FILE``) answers its failures with their status.
"""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api

api = Api(tags=["Editor"], response=ResponseKind.RESULT, errors="result", ok_failures=("",))
