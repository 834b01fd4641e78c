"""omics-tracker: jobs, histories and failures from a terminal (docs/operating.md#the-omics-tracker-command).

Thin Typer commands (main), plain typed functions for the queries (jobs, failures) and the inputs
(starts), AWS access in one place (stack) and the Rich output in another (render). It reads the history
table through the tracker's own modules (``tracker.contract``, ``tracker.history_table`` and the status rules
it uses), never a handler.
"""
