"""The kernel: the small app every other app imports and that imports none of them.

Roles, the enqueue-after-commit helper, the engine launcher, the status-row base with its lease, the
audit log and the one application error type live here (docs/architecture.md, "Layers").
"""
