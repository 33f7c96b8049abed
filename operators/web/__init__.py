"""Operators that reach outside the process: ``http.request`` (an HTTP API) and
``file.read`` (a file in the data directory)."""
