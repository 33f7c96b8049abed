"""The worker manager's routes (``/api/worker/*``)."""
