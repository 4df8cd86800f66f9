"""Rendering JavaScript-drawn pages with headless Chromium from Scrapy (see :mod:`.middleware`)."""

from crawler.browser.request import browser_request, get_marker

__all__ = ["browser_request", "get_marker"]
