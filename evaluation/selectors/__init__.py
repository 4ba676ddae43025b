"""Reads of the evaluation app: sets and items (``sets``), panels (``panels``), reports (``reports``)."""
