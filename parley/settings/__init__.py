"""Settings package: ``base`` plus topic modules; ``local`` for ``make run``, ``test`` for pytest."""
