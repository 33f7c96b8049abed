"""Agents: packages of flows users install, mount under the trigger prefix and chat with.

:mod:`.manifest` reads ``agent.toml`` (or DB-GPT's ``dbgpts.toml``), :mod:`.package` reads a
folder or a zip safely, :mod:`.checks` validates its flows and applies the trust policy,
:mod:`.installs` installs per user and mounts through :mod:`.mounts`, :mod:`.routes` holds
the route actions and :mod:`.chat` the chat_agent scene's node.
"""
