"""DB-GPT's app-platform routes (apps, skills, connectors, scheduled tasks, evaluation),
answered empty or refused so that DB-GPT's newer web UI loads those pages with an empty
state (``operators/app_platform.py``)."""
