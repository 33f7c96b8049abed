"""The webserver's model-management routes (``/api/v1/worker/*``, ``/api/v1/model/*``)."""
