"""Notification clocks: which breach laws apply, who must be told, by when (`engine.obligations`).

Platform-neutral and free of I/O beyond reading regimes.yml; the war room and `breachroom obligations` both use it.
"""
