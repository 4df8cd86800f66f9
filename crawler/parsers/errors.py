"""Why a body could not be parsed.

Every failure is a :class:`ParseError` whose class says *why*, and whose ``reason`` is a short stable
token, so that a spider can count and log failures by cause (``parse/failed/<kind>/<reason>``)
instead of storing half-parsed pages. ``kind`` names the page kind the caller asked for.
"""

from __future__ import annotations


class ParseError(ValueError):
    """The body is not a usable page of the asked kind (base class; also malformed data)."""

    reason = "invalid"

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message

    def one_line(self) -> str:
        """The message as one line, for logs and the CLI's stderr."""
        return " ".join(f"{self.reason}: {self}".split())


class NotThisPage(ParseError):
    """A real page, but of another kind than the one asked for (e.g. a profile given to parse_anime)."""

    reason = "wrong_kind"


class NotFoundPage(ParseError):
    """MAL's 404 page: the anime or user does not exist. Not worth retrying."""

    reason = "not_found"


class BlockedPage(ParseError):
    """A captcha (``div.display-submit``), ban or rate-limit page served instead of the content.

    Worth retrying later, after backing off; never a sign that the content does not exist.
    """

    reason = "blocked"


class TruncatedPage(ParseError):
    """The body was cut short (no closing ``</html>``, or JSON that stops mid-value). Retry it."""

    reason = "truncated"


class TemplatePage(ParseError):
    """The page holds unrendered template text such as ``${ item.anime_title }`` instead of data."""

    reason = "template"


class ListUnavailable(ParseError):
    """load.json's HTTP 400 body (``{"errors": [...]}``): the list is private or the user is missing."""

    reason = "list_unavailable"


class ServerErrorPage(BlockedPage):
    """A 5xx error page ("500 Internal Server Error", "503 Service Unavailable") served as the body.

    A subclass of :class:`BlockedPage` because it is handled the same way: transient, retry after a
    back-off, never evidence that the content does not exist.
    """

    reason = "server_error"
