"""The board between the rankings and their readers.

- ``snapshot``: the board as plain values (shards of submissions with their records, summaries,
  the board-wide view) and the pure functions between them;
- ``read``: the files on disk into those values (``load_board``), each record's freshness
  decided by ``ftbench.jobs.freshness``.

Both the site (``ftbench.site``) and the pull-request report (``ftbench.report``) consume it;
neither imports the other.
"""
