"""A client of the generated API, authenticated with an API key or a portal session token, whose
calls raise PortalApiError on any error answer (sync and async alike)."""

import httpx

from portal_client.errors import raise_for_error, raise_for_error_async
from portal_client.generated.client import AuthenticatedClient


def connect(
    base_url: str,
    *,
    api_key: str | None = None,
    session_token: str | None = None,
    timeout: float = 30.0,
) -> AuthenticatedClient:
    """The client to pass to every generated call (`list_contacts.sync(client=...)`).

    `base_url` is the gateway's origin (http://127.0.0.1:8080): the generated paths start with
    /api/v1. Give exactly one credential: the organization's API key (pk_..., on servers only)
    or a portal user's session token (ps_..., sessionToken of sync-user); both are sent as
    `Authorization: Bearer ...`.
    """
    if (api_key is None) == (session_token is None):
        raise ValueError("give exactly one of api_key and session_token")
    token = api_key or session_token
    if not token:
        raise ValueError("the credential is empty")
    headers = {"Authorization": f"Bearer {token}"}
    client = AuthenticatedClient(base_url=base_url, token=token, timeout=httpx.Timeout(timeout))
    client.set_httpx_client(
        httpx.Client(base_url=base_url, headers=headers, timeout=timeout, event_hooks={"response": [raise_for_error]})
    )
    client.set_async_httpx_client(
        httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout, event_hooks={"response": [raise_for_error_async]}
        )
    )
    return client
