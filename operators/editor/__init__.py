"""The SQL and chart editors: what each route does (:mod:`.sql_editor`,
:mod:`.chart_editor`, their bodies in :mod:`.requests`), checking and running editor SQL
(:mod:`.sql`), a conversation's rounds as the editors see them (:mod:`.rounds`), chart
data and Vega-Lite specs (:mod:`.chart`), drawing them (:mod:`.render`) and the schema
tree (:mod:`.tables`). The routes are flows in ``flows/editor/``."""
