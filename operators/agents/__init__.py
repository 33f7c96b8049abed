"""Agents: packages of flows, offered by hubs and installed per user.

- :mod:`.errors`: what a client can get wrong (``agent.*`` codes);
- :mod:`.hub`: syncing a hub (git or a folder) into the data folder and ``store.agent_hub``,
  and :func:`~.hub.hub_package`, an entry's folder;
- :mod:`.requests`, :mod:`.routes`: DB-GPT's hub routes (``/api/v1/agent/hub/update``,
  ``/api/v1/agent/query``, dbgpts' ``/api/v1/serve/dbgpts/hub/*``), one function each.
"""
