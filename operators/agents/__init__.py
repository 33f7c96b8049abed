"""Agents: packages of flows, offered by hubs, installed per user, mounted under the trigger
prefix and chatted with.

- :mod:`.hub`: syncing a hub (git or a folder) into the data folder and ``store.agent_hub``,
  and :func:`~.hub.hub_package`, an entry's folder;
- :mod:`.manifest` reads ``agent.toml`` (or DB-GPT's ``dbgpts.toml``), :mod:`.package` reads a
  folder or a zip safely, :mod:`.checks` validates its flows and applies the trust policy;
- :mod:`.installs` installs per user and mounts through :mod:`.mounts`;
- :mod:`.requests`, :mod:`.routes`: the route actions; :mod:`.chat`: the chat_agent scene's
  node; :mod:`.errors`: what a client can get wrong (``agent.*`` codes).
"""
