/**
 * The TypeScript SDK's quickstart (README.md, docs/frontend.md): contacts, a project, an invoice and
 * its PDF with the organization's API key, then a portal user's sign-in and its session.
 *
 *     npm run build && PORTAL_API_URL=http://127.0.0.1:8080 PORTAL_API_KEY=pk_... node dist/examples/quickstart.js
 *
 * It prints what it made as one JSON object (the SDK tests read it).
 */
import { randomUUID } from "node:crypto";

import { PortalApiError, createPortalClient, ok, paginate } from "@portal/client";

const baseUrl = process.env.PORTAL_API_URL ?? "http://127.0.0.1:8080";
const portal = createPortalClient({ baseUrl, apiKey: process.env.PORTAL_API_KEY! });
const email = `jane.${randomUUID().slice(0, 8)}@example.com`;

// Contacts: create one (201; the same email again updates it), then list them all, page after page.
const created = await ok(portal.POST("/api/v1/crm/contacts", { body: { firstName: "Jane", lastName: "Roe", email } }));
const contacts = [];
for await (const contact of paginate(
  ({ limit, offset }) => ok(portal.GET("/api/v1/crm/contacts", { params: { query: { limit, offset } } })),
  (page) => page.contacts,
  50,
)) {
  contacts.push(contact.id);
}

// A project (a draft, with its code PRJ-<year>-001...).
const project = await ok(portal.POST("/api/v1/projects", { body: { name: "Website Redesign", subtype: "client_project" } }));

// An invoice billed to the contact (amounts in minor units: 10 × $100.00 plus 7% tax), and its PDF.
const invoice = await ok(
  portal.POST("/api/v1/invoices", {
    body: {
      type: "b2c_single",
      currency: "USD",
      lineItems: [{ description: "Development", quantity: 10, unitPriceInCents: 10000, taxRatePercent: 7 }],
      billTo: { contactId: created.contactId },
    },
  }),
);
const pdf = await ok(
  portal.GET("/api/v1/invoices/{invoiceId}/pdf", { params: { path: { invoiceId: invoice._id } }, parseAs: "arrayBuffer" }),
);

// A portal user signs in (the frontend's server calls this after the OAuth login, with the API key)...
const signedIn = await ok(
  portal.POST("/api/v1/auth/sync-user", {
    body: { email, name: "Jane Roe", oauthProvider: "google", oauthId: `g-${randomUUID()}` },
  }),
);
// ...and calls the API with the session token from then on.
const session = createPortalClient({ baseUrl, sessionToken: signedIn.sessionToken });
const me = await ok(session.GET("/api/v1/auth/user"));

// Every error answer rejects with a PortalApiError carrying the status and the body's {error, code, field}.
let refused: { status: number; code: string | undefined; field: string | undefined } | undefined;
try {
  await portal.POST("/api/v1/crm/contacts", { body: { email: "not-an-email" } });
} catch (error) {
  if (!(error instanceof PortalApiError)) throw error;
  refused = { status: error.status, code: error.code, field: error.field };
}

console.log(
  JSON.stringify({
    email,
    contactId: created.contactId,
    listed: contacts,
    projectId: project._id,
    invoiceId: invoice._id,
    totalAmountInCents: invoice.customProperties?.totalAmountInCents,
    pdfStart: new TextDecoder("latin1").decode(new Uint8Array(pdf).slice(0, 5)),
    sessionToken: signedIn.sessionToken,
    me: { id: me._id, email: me.email },
    refused,
  }),
);
