"""What the SDK tests share: where the repository and the README's quickstart snippets are, and
what both SDKs' quickstarts must have made."""

import pathlib

from portal_stack.testing import Api

ROOT = pathlib.Path(__file__).resolve().parents[2]


def readme_snippet(language: str) -> str:
    """The code block of README.md that follows the `<!-- sdk-quickstart:<language> -->` marker."""
    text = (ROOT / "README.md").read_text()
    marker = f"<!-- sdk-quickstart:{language} -->"
    assert marker in text, f"README.md has no {marker}"
    block = text.split(marker, 1)[1].split("```", 2)
    return block[1].split("\n", 1)[1]  # without the fence's language line


def check_quickstart(made: dict, base_url: str, api_key: str) -> None:
    """What a quickstart printed holds, and the gateway serves it back: the contact (listed), the
    project, the invoice (amounts computed by the server) and its PDF, the portal user of the
    session token, and the refused contact as one error carrying status, code and field."""
    assert made["contactId"] in made["listed"]
    assert made["pdfStart"] == "%PDF-"
    assert made["totalAmountInCents"] == 107_000  # 10 × 10000 plus 7% tax
    assert made["refused"] == {"status": 400, "code": "INVALID_ARGUMENT", "field": "email"}
    rest = Api(base_url, api_key)
    assert rest.get(f"/api/v1/crm/contacts/{made['contactId']}").json()["email"] == made["email"]
    assert rest.get(f"/api/v1/projects/{made['projectId']}").json()["name"] == "Website Redesign"
    pdf = rest.get(f"/api/v1/invoices/{made['invoiceId']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    me = Api(base_url, made["sessionToken"]).get("/api/v1/auth/user").json()
    assert me["_id"] == made["me"]["id"] and me["email"] == made["me"]["email"] == made["email"]
