"""Projections: the log folded into state, stored, and served. Four rooms, one way down.

- `conflux.projections.api`: the query API's contract: response models and `ApiClient`
  (what the CLI reads with; pydantic and urllib only).
- `conflux.projections.folds`: the pure folds shared by the coordinator and every reader
  (definitions, asset state, runs, backfills, checks, schedules and sensors, automation).
- `conflux.projections.archive`: the ClickHouse archive (chdb or a server), its sink and
  the seeding of a broker that keeps nothing.
- `conflux.projections.projector`: the projector process: the read model, the query
  API's server and web UI, lineage and `why`, replay.

Each room depends only on the rooms above it in this list, and every other part uses a
room through its `__init__`. This package itself exports nothing.
"""
