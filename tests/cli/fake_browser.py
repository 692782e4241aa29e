"""A stand-in for the user's web browser, for ``cdconnect login`` tests.

As a library: :class:`FakeBrowser` is passed to the CLI as its ``open_browser``. As a script
(``BROWSER="python fake_browser.py %s"`` for a ``cdconnect login`` subprocess) it reads its
settings from ``FAKE_BROWSER_CA``, ``FAKE_BROWSER_EMAIL`` and ``FAKE_BROWSER_CANCEL``.

Either way it does what a person would: signs in on the sandbox's login page (or presses
Cancel) and follows the redirect back to the loopback listener.
"""

from __future__ import annotations

import os
import ssl
import sys
from dataclasses import dataclass, field

import httpx

from cdconnect.sandbox import BROKER_EMAIL, TEST_PASSWORD, login


@dataclass
class FakeBrowser:
    verify: ssl.SSLContext | str
    email: str = BROKER_EMAIL
    cancel: bool = False
    #: Follow the redirect to the callback (a loopback listener); off for the paste flow.
    follow: bool = True
    opened: list[str] = field(default_factory=list)
    landed_on: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        with httpx.Client(verify=self.verify) as http:
            location = login(http, url, self.email, TEST_PASSWORD, cancel=self.cancel)
        self.landed_on.append(location)
        if self.follow:
            httpx.get(location, timeout=10).raise_for_status()
        return True


def main() -> None:
    browser = FakeBrowser(
        verify=os.environ["FAKE_BROWSER_CA"],
        email=os.environ.get("FAKE_BROWSER_EMAIL", BROKER_EMAIL),
        cancel=os.environ.get("FAKE_BROWSER_CANCEL") == "1",
    )
    browser(sys.argv[1])


if __name__ == "__main__":
    main()
