"""The shipped flows: one DAG per documented route, grouped by API."""
