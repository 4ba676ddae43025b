"""The OpenAI-compatible gateway (docs/deploy.md, "The gateway"): ``core`` checks requests, routes and
applies guardrails; ``app`` is the async ASGI app; ``log`` writes every exchange behind the response."""
