"""The order saga: its definition (one table, `definition`), the participant calls of its steps
(`steps`) and the generic engine that runs any definition on persisted state (`engine`)."""
