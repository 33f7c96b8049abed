"""The operator library, one module per domain: models, embeddings, datasources and SQL,
prompts, charts, storage, agents. Each operator registers by name (the ``awel.operators``
entry-point group) so YAML flows can use it. The modules arrive with the features that
need them; the engine's own kinds live in ``awel.operators``.
"""
