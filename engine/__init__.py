"""Parley's ML engine. Pure Python + torch: it NEVER imports Django.

It runs on a GPU node as a subprocess with files in and out (``python -m engine ...``); the web app
imports only its Django-free helpers (task schema, prompt template, demo world generator, rewards).
"""

__version__ = "0.1.0"
