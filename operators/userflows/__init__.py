"""Flows people write and edit through the API: DB-GPT's flow serve module.

Stored flows with their versions, deploying them into the running server, flow variables,
the operator palette, templates and debugging a flow that is not saved. Our YAML is the
source of truth; DB-GPT's ``FlowPanel`` JSON is accepted and answered where it maps.
"""
