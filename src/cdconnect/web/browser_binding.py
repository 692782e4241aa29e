"""The cookie that binds a connect to the browser that opened its connect link.

``/connect/{link}`` gives the browser a fresh secret in this cookie; the callback hands it back
to ``complete_connect``, which refuses a callback arriving in any other browser (a forwarded
authorize URL). ``SameSite=Lax`` is enough: Central Dispatch sends the browser back with a
top-level GET navigation, on which Lax cookies are sent even from another site.

On HTTPS the name carries the ``__Host-`` prefix: browsers then accept the cookie only with
``Secure``, ``Path=/`` and no ``Domain``, so neither a sibling subdomain nor plain HTTP can plant
or overwrite it. The prefix requires ``Secure``, which a browser refuses over plain HTTP, so a
service on plain HTTP (loopback development only: the settings allow no other HTTP) uses the
same name without the prefix and without ``Secure``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response
from pydantic import SecretStr

COOKIE_NAME = "cdconnect_connect"
HOST_PREFIX = "__Host-"


@dataclass(frozen=True, slots=True)
class BindingCookie:
    """How this service names and flags the browser-binding cookie."""

    name: str
    secure: bool

    @classmethod
    def for_service(cls, public_url: str, redirect_uri: str) -> BindingCookie:
        """Secure (and ``__Host-``) unless the connect links or the callback are plain HTTP."""
        secure = all(urlsplit(url).scheme == "https" for url in (public_url, redirect_uri))
        return cls(HOST_PREFIX + COOKIE_NAME if secure else COOKIE_NAME, secure)

    def set(self, response: Response, secret: SecretStr, *, expires_in: float) -> None:
        """Give the browser the secret for as long as the pending authorization lives."""
        response.set_cookie(
            self.name,
            secret.get_secret_value(),
            max_age=max(1, math.ceil(expires_in)),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def read(self, request: Request) -> str | None:
        return request.cookies.get(self.name)

    def clear(self, response: Response) -> None:
        # The same attributes as when set: a __Host- cookie is only replaced by a Secure one.
        response.delete_cookie(
            self.name, path="/", secure=self.secure, httponly=True, samesite="lax"
        )
