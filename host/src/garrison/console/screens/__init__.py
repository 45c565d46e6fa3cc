"""The console's screens, one module each; each shows a a ``Snapshot``."""
