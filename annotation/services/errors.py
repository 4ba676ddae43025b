"""The one error type annotation services raise for refused input; views turn it into a 4xx page or JSON.

Messages are module constants in the service that raises them, so tests assert the exact text.
"""


class AnnotationError(Exception):
    """A refused request. ``status`` is the HTTP status a view should answer with (400, 403, 404, 409)."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status
