"""What a sweep found, as one typed value: the result model every output reads.

The runner (`netcheck.sweep`) builds it, the store keeps it, the reports render
it; none of them needs the others to reach it. Submodules, lowest first:

- `cells` — what one probe cell measured (`Sample`, `CellResult`) and the agents;
- `judge` — one judge built from the plan: a cell's verdict against its rule and path;
- `model` — `SweepResult`: cells, application facts, path diagnostics, bandwidth
  tests, NIC reports and readiness findings of one sweep;
- `findings` — every check kind as one shape (`Finding`), and GO / NO-GO;
- `codec` — the whole result to JSON and back, losslessly (the store's format);
- `events` — `SweepObserver`, the hooks a sweep calls while it runs.

Import from the submodules: this package's `__init__` imports nothing, so the
low layers (`cells`) never pull in the aggregate (and no import cycle forms).
"""
