"""Many processes on one study: the storage URL, heartbeats, the exact trial cap, storage
outages, recovery of interrupted trials, launching workers and their signals, and `hpo proxy`
(the storage over gRPC for many workers). Imports only
config, records, errors and the filesystem helpers."""
