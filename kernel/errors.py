"""The one error type of the application: a service refusing a request, with the message a person reads
and the HTTP status a caller should get.

Services raise ``ApplicationError(MESSAGE, status=...)`` with the message a module constant of the
service, so tests assert the exact text. Adapters do not translate it: ``kernel.refusals`` turns an
uncaught one into a 4xx page, an htmx fragment or an API answer in one place. A view catches it only to
show the message somewhere better (the form it came from). Django's ``ValidationError`` keeps its own
job: a model's ``full_clean()`` or a form field that refuses a value.
"""


class ApplicationError(Exception):
    """A refused request. ``status`` is 400 (bad input), 403, 404 or 409 (the row is not in a state that
    allows it); ``messages`` lists each problem when there are several (``message`` joins them)."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def messages(self) -> list[str]:
        return [self.message]


class ApplicationErrors(ApplicationError):
    """A refusal with several problems, each a line a person reads (an import's or a batch's rows, a
    body's fields): ``messages`` lists them, ``message`` joins them."""

    def __init__(self, errors: list[str], *, status: int = 400):
        super().__init__("; ".join(errors), status=status)
        self.errors = errors

    @property
    def messages(self) -> list[str]:
        return self.errors
