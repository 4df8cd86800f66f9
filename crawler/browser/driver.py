"""Building headless Chromium with Debian's chromedriver (never Selenium Manager).

Selenium 4 downloads a driver through Selenium Manager whenever it is not handed one; workers have no
internet and must not fetch binaries at run time, so the driver path is always explicit and checked.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Flags that make Chromium work in containers: no sandbox (the container is the sandbox, and non-root
# users have no user namespaces there), no /dev/shm (Docker gives 64 MB and Chrome crashes with "Aw,
# Snap" on big pages; compose also raises shm_size), and no background traffic (updates, sync, field
# trials), which also keeps the browser from talking to Google.
BASE_ARGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--mute-audio",
    "--window-size=1280,1024",
)
# Resolves nothing but loopback: no DNS lookup can leave the machine (tests, CI, the demo).
LOCAL_ONLY_ARG = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"

DEFAULT_DRIVER_PATH = "/usr/bin/chromedriver"
DEFAULT_BINARY = "/usr/bin/chromium"


class BrowserUnavailable(RuntimeError):
    """Chromium or chromedriver is missing or does not start; the message says which and how to fix it."""


@dataclass
class BrowserConfig:
    driver_path: str = DEFAULT_DRIVER_PATH
    binary: str = DEFAULT_BINARY
    extra_args: list[str] = field(default_factory=list)
    local_only: bool = False
    page_load_timeout: float = 30.0
    user_agent: str | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | Any) -> BrowserConfig:
        """From Scrapy settings (or any mapping with ``.get``); see :mod:`crawler.browser.middleware`."""
        get = settings.get
        args = get("BROWSER_ARGS") or []
        if isinstance(args, str):
            # "-s BROWSER_ARGS=--a,--b" on the command line; a flag containing commas must come as a list.
            args = [a for a in args.split(",") if a.strip()]
        local_only = get("BROWSER_LOCAL_ONLY", False)
        if isinstance(local_only, str):
            local_only = local_only.strip().lower() in {"1", "true", "yes", "on"}
        return cls(
            driver_path=get("BROWSER_DRIVER_PATH") or DEFAULT_DRIVER_PATH,
            binary=get("BROWSER_BINARY") or DEFAULT_BINARY,
            extra_args=list(args),
            local_only=bool(local_only),
            page_load_timeout=float(get("BROWSER_PAGE_LOAD_TIMEOUT") or 30.0),
            user_agent=get("BROWSER_USER_AGENT") or None,
        )

    def arguments(self) -> list[str]:
        """Every command-line flag Chromium gets, in order, without duplicates."""
        args: list[str] = list(BASE_ARGS)
        if self.local_only:
            args.append(LOCAL_ONLY_ARG)
        if self.user_agent:
            args.append(f"--user-agent={self.user_agent}")
        args.extend(self.extra_args)
        return list(dict.fromkeys(args))


def _check_executable(path: str, what: str, setting: str, package: str) -> str:
    resolved = path if os.path.isabs(path) else shutil.which(path)
    if not resolved or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        raise BrowserUnavailable(
            f"{what} not found at {path!r}: install Debian's {package} (apt-get install {package}) "
            f"or point the {setting} setting at it"
        )
    return resolved


def chrome_options(config: BrowserConfig, args: Iterable[str] | None = None) -> Any:
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = config.binary
    for arg in args if args is not None else config.arguments():
        options.add_argument(arg)
    options.page_load_strategy = "normal"
    return options


def build_driver(config: BrowserConfig) -> Any:
    """A started headless Chromium ``WebDriver``; raises :class:`BrowserUnavailable` with the reason."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    driver_path = _check_executable(config.driver_path, "chromedriver", "BROWSER_DRIVER_PATH", "chromium-driver")
    binary = _check_executable(config.binary, "Chromium", "BROWSER_BINARY", "chromium")
    config = BrowserConfig(**{**config.__dict__, "driver_path": driver_path, "binary": binary})
    # An explicit Service path is what keeps Selenium Manager from ever running.
    service = Service(executable_path=driver_path)
    try:
        driver = webdriver.Chrome(service=service, options=chrome_options(config))
    except WebDriverException as exc:
        raise BrowserUnavailable(f"Chromium did not start ({binary} via {driver_path}): {exc.msg or exc}") from exc
    driver.set_page_load_timeout(config.page_load_timeout)
    return driver
