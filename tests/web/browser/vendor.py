"""A pretend vendor application: a page with a "Connect Central Dispatch" button.

Like a real vendor backend it asks the service's admin API for a connect link (server side,
with the admin key) and puts the link behind the button; the service sends the customer back to
``/done`` with the outcome in the query.
"""

from __future__ import annotations

import html
import ssl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route


def vendor_app(service_url: str, admin_key: str, service_ca: str, own_url: str) -> Starlette:
    async def home(request: Request) -> HTMLResponse:
        customer = request.query_params.get("customer", "acme")
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=service_ca)) as http:
            response = await http.post(
                f"{service_url}/api/connect-sessions",
                json={"external_id": customer, "return_url": f"{own_url}/done"},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
        response.raise_for_status()
        link = html.escape(response.json()["connect_url"])
        return HTMLResponse(
            "<!doctype html><title>Vendor TMS</title><h1>Integrations</h1>"
            f'<p>Customer {html.escape(customer)}</p><a id="connect" href="{link}">'
            "Connect Central Dispatch</a>"
        )

    async def done(request: Request) -> HTMLResponse:
        outcome = html.escape(request.query_params.get("cdconnect", "unknown"))
        customer = html.escape(request.query_params.get("external_id", "?"))
        return HTMLResponse(
            "<!doctype html><title>Vendor TMS</title><h1>Integrations</h1>"
            f'<p id="status">Central Dispatch: {outcome}</p><p>Customer {customer}</p>'
        )

    return Starlette(routes=[Route("/", home), Route("/done", done)])
