"""Marking a request for the browser, as plain data in ``request.meta``.

A ``scrapy_selenium.SeleniumRequest`` is a Request subclass holding callables (wait conditions), which
cannot travel through the Redis frontier (scrapy-redis serialises requests with ``Request.to_dict``).
Here the marker is a dict of JSON-able values under ``meta["browser"]``, so any plain ``scrapy.Request``
can be rendered, queued in Redis, and rendered by whichever worker pops it::

    yield browser_request(url, callback=self.parse_list, wait_for="table.list-table tbody tr")

Keys of the marker (all optional):

- ``wait_for``: CSS selector that must be present before the page is captured (no fixed sleeps).
- ``script``: JavaScript run after the wait; its return value is in ``response.meta["browser_script_result"]``.
- ``screenshot``: when true, a PNG of the viewport is in ``response.meta["browser_screenshot"]``.
- ``timeout``: seconds to wait for ``wait_for`` (default: the ``BROWSER_WAIT_TIMEOUT`` setting).
"""

from __future__ import annotations

from typing import Any

import scrapy

META_KEY = "browser"
MARKER_KEYS = frozenset({"wait_for", "script", "screenshot", "timeout"})


def browser_marker(wait_for: str | None = None, script: str | None = None, screenshot: bool = False,
                   timeout: float | None = None) -> dict[str, Any]:
    """The plain-data marker the browser middleware looks for in ``request.meta["browser"]``."""
    return {"wait_for": wait_for, "script": script, "screenshot": bool(screenshot), "timeout": timeout}


def browser_request(url: str, *, wait_for: str | None = None, script: str | None = None,
                    screenshot: bool = False, timeout: float | None = None, **kwargs: Any) -> scrapy.Request:
    """A ``scrapy.Request`` that the browser middleware renders in headless Chromium.

    ``kwargs`` go to ``scrapy.Request`` (callback, cb_kwargs, meta, priority, dont_filter...).
    """
    meta = dict(kwargs.pop("meta", None) or {})
    meta[META_KEY] = browser_marker(wait_for=wait_for, script=script, screenshot=screenshot, timeout=timeout)
    return scrapy.Request(url, meta=meta, **kwargs)


def get_marker(request: scrapy.Request) -> dict[str, Any] | None:
    """The request's browser marker, normalised; ``None`` when the request is for plain HTTP.

    ``meta["browser"] = True`` is accepted as shorthand for "render with the defaults".
    """
    raw = request.meta.get(META_KEY)
    if not raw:
        return None
    if raw is True:
        return browser_marker()
    if not isinstance(raw, dict):
        raise TypeError(f"meta[{META_KEY!r}] must be a dict or True, got {type(raw).__name__}")
    unknown = set(raw) - MARKER_KEYS
    if unknown:
        raise ValueError(f"unknown keys in meta[{META_KEY!r}]: {sorted(unknown)}; known: {sorted(MARKER_KEYS)}")
    return browser_marker(**raw)
