"""OpenAI's wire protocol, as the model API (port 8100) speaks it: request bodies
(:mod:`.requests`), the operators that turn a body into engine requests and the engine's
answers into OpenAI's, whole or streamed (:mod:`.chat`, :mod:`.completions`,
:mod:`.embeddings`, :mod:`.models`; shared parts in :mod:`.answers`). The routes are flows
in ``flows/model_api/``."""
