// The TypeScript SDK's thin layer against the real stack, compiled strictly in an application that
// depends on the package (tests/sdk/test_typescript_sdk.py). Prints one JSON object of findings.
import { PortalApiError, createPortalClient, ok, paginate } from "@portal/client";

const baseUrl = process.env.PORTAL_API_URL!;
const portal = createPortalClient({ baseUrl, apiKey: process.env.PORTAL_API_KEY! });

async function failure(call: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await call();
  } catch (error) {
    if (error instanceof PortalApiError) {
      return { status: error.status, code: error.code, field: error.field, retryAfter: error.retryAfter, message: error.message };
    }
    return { thrown: String(error) };
  }
  return { thrown: "nothing" };
}

const emails: string[] = [];
for (let n = 0; n < 5; n++) {
  const email = `page.${n}.${Date.now()}@example.com`;
  await ok(portal.POST("/api/v1/crm/contacts", { body: { email } }));
  emails.push(email);
}
const windows: Array<[number, number]> = [];
const seen: string[] = [];
for await (const contact of paginate(
  ({ limit, offset }) => {
    windows.push([limit, offset]);
    return ok(portal.GET("/api/v1/crm/contacts", { params: { query: { limit, offset } } }));
  },
  (page) => page.contacts,
  2,
)) {
  seen.push(contact.email);
}

const notAProxy = createPortalClient({
  baseUrl,
  apiKey: "pk_x",
  fetch: async () => new Response("<html>bad gateway</html>", { status: 502, headers: { "Retry-After": "3" } }),
});

console.log(
  JSON.stringify({
    emails,
    seen,
    windows,
    missing: await failure(() =>
      portal.GET("/api/v1/crm/contacts/{contactId}", { params: { path: { contactId: "ct_01NOSUCHCONTACT0000000000" } } }),
    ),
    invalid: await failure(() => portal.POST("/api/v1/crm/contacts", { body: { email: "x@example.com", subtype: "vip" } })),
    unknownKey: await failure(() => createPortalClient({ baseUrl, apiKey: "pk_unknown" }).GET("/api/v1/crm/contacts")),
    apiKeyOnSessionRoute: await failure(() => portal.GET("/api/v1/auth/user")),
    notTheApisError: await failure(() => notAProxy.GET("/api/v1/crm/contacts")),
    badPageSize: await failure(async () => {
      for await (const _ of paginate(async () => ({ total: 0 }), () => [], 201)) void _;
    }),
    twoCredentials: await failure(async () => createPortalClient({ baseUrl, apiKey: "pk_a", sessionToken: "ps_b" })),
  }),
);
