"""DB-GPT's apps (``/api/v1/app/list``, ``/api/v1/dbgpts/list``): what one can chat with
besides the scenes, made of what awel has: the agents the user installed from the agent hub
(``store.agent_installs``, chatted with as ``chat_agent``) and the flows marked as chat
flows (``store.flows``, ``flow_category`` chat_flow or chat_agent, chatted with as
``chat_flow``). Nothing is stored for an app itself."""
