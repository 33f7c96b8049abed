"""The model controller's routes (``/api/controller/*``, ``/api/health``)."""
