// Drives the playground (GET /api/docs) in Debian's headless Chromium with playwright-core, as a user
// would: waits for every operation group, enters an API key in "Authorize", runs
// GET /api/v1/crm/contacts with "Execute", and takes a screenshot. It prints what it saw as one JSON
// object; tests/e2e/test_playground.py asserts on it.
//
// Usage: node tests/e2e/playground.mjs '{"base": "http://127.0.0.1:PORT", "apiKey": "pk_...",
//          "operation": "operations-CrmService-ListContacts", "screenshot": "/path/to.png"}'

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { chromium } = createRequire(path.join(repo, "build/tools/node_modules/"))("playwright-core");
const { base, apiKey, operation, screenshot } = JSON.parse(process.argv[2]);
const TIMEOUT = 30_000;

// The flags of a machine with no network beyond this one and no sandbox for root (docs/api.md).
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const seen = { requests: [], consoleErrors: [], pageErrors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.setDefaultTimeout(TIMEOUT);
  page.on("request", (request) => seen.requests.push(request.url()));
  page.on("console", (message) => message.type() === "error" && seen.consoleErrors.push(message.text()));
  page.on("pageerror", (error) => seen.pageErrors.push(String(error)));

  const docs = await page.goto(`${base}/api/docs`);
  seen.pageStatus = docs.status();
  seen.title = await page.title();
  await page.locator(".opblock-tag").first().waitFor();
  seen.tags = await page.locator(".opblock-tag").evaluateAll((tags) => tags.map((tag) => tag.dataset.tag));

  // Authorize: the API key scheme's form in the modal.
  await page.locator("button.authorize").first().click();
  const scheme = page.locator(".auth-container").filter({ has: page.locator("h4", { hasText: /^apiKey/ }) });
  await scheme.locator("input").fill(apiKey);
  await scheme.locator("button.authorize").click();
  // Once authorized, the scheme's form says so (and hides the key).
  await scheme.locator("h6", { hasText: "Authorized" }).waitFor();
  seen.authorized = true;
  await page.locator("button.btn-done").first().click();

  // Open the operation and execute it ("Try it out" is on from the start).
  const block = page.locator(`#${operation}`);
  await block.locator(".opblock-summary").first().click();
  const call = page.waitForResponse((response) => new URL(response.url()).pathname === "/api/v1/crm/contacts");
  await block.locator("button.execute").click();
  const response = await call;
  seen.call = {
    url: response.url(),
    status: response.status(),
    authorization: await response.request().headerValue("authorization"),
    body: await response.json(),
  };
  const live = block.locator(".live-responses-table .response");
  await live.locator(".response-col_status").first().waitFor();
  seen.shownStatus = (await live.locator(".response-col_status").first().innerText()).trim();
  seen.shownBody = await live.locator(".response-col_description pre").first().innerText();

  // The operation from its title down to the answer.
  await block.evaluate((element) => element.scrollIntoView({ block: "start" }));
  await page.screenshot({ path: screenshot });
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
