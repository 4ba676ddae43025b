"""Posted page forms: a NUL character in any field is a 400 naming the field, before a view sees it
(docs/operations.md, "Length limits and hostile text").

Django's form fields already refuse NUL, but many views read ``request.POST`` directly and PostgreSQL's
text columns cannot hold it: an unchecked NUL was a 500. Lone surrogates cannot arrive in a form (the
body is decoded as UTF-8); the other characters ``kernel.text`` refuses are each service's to refuse, with
the field's own words. The REST API has its own parsers (``kernel.api_input``).
"""

from __future__ import annotations

from kernel.errors import ApplicationError
from kernel.refusals import refused

NUL_IN_FIELD = "{field}: contains a NUL character (U+0000); remove it"


class PostedNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and not request.path.startswith("/api/"):
            for key, values in request.POST.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    field = key.replace("\x00", "\\0")
                    return refused(request, ApplicationError(NUL_IN_FIELD.format(field=field)))
        return self.get_response(request)
