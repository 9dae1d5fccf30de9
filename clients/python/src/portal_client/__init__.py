"""The client portal's REST API in Python.

The calls and models are generated from the API's OpenAPI document (make setup:
portal_client.generated.api.<service>.<operation>, portal_client.generated.models); this package
adds what the generated code leaves awkward: the credential (connect), one exception for every
error answer (PortalApiError), the success type of an answer (ok), and pagination (paginate).
"""

from portal_client.client import connect
from portal_client.errors import PortalApiError, ok
from portal_client.pagination import paginate

__all__ = ["PortalApiError", "connect", "ok", "paginate"]
