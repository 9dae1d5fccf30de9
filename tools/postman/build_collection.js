// Builds the Postman collection (build/postman.json) from the OpenAPI description (build/openapi.json):
// openapi-to-postmanv2 converts it, then this script makes it usable against a running portal and
// checkable by newman (docs/api.md, "Postman"):
// - variables: baseUrl, apiKey (the Bearer token of every request that takes the API key),
//   sessionToken (of the requests that take only a portal session), and one per path parameter
//   (contactId, invoiceId, ...), which every request's path uses;
// - requests named by their operationId's summary or the operationId, and identified by it;
// - a collection test that checks each response against the spec: its status is one the operation
//   documents, its content type the one documented for that status, a JSON body valid against the
//   documented schema.
//
// Usage: node tools/postman/build_collection.js SPEC OUTPUT NODE_MODULES

"use strict";

const fs = require("fs");
const path = require("path");

const [specPath, outputPath, nodeModules] = process.argv.slice(2);
const converter = require(path.resolve(nodeModules, "openapi-to-postmanv2"));

const METHODS = ["get", "post", "put", "patch", "delete"];
const spec = JSON.parse(fs.readFileSync(specPath, "utf8"));

// Where `{"$ref": "#/a/b"}` points inside the spec.
function resolved(node) {
  if (!node || !node.$ref) return node;
  return node.$ref
    .slice(2)
    .split("/")
    .reduce((at, key) => at[key.replace(/~1/g, "/").replace(/~0/g, "~")], spec);
}

// Each operation by "METHOD /path/{param}", with what the checks need: the JSON schema of each
// documented status and content type (null where no body is documented).
const operations = {};
for (const [route, item] of Object.entries(spec.paths)) {
  for (const method of METHODS.filter((m) => item[m])) {
    const operation = item[method];
    const responses = {};
    for (const [status, response] of Object.entries(operation.responses)) {
      const content = resolved(response).content || {};
      responses[status] = Object.fromEntries(
        Object.entries(content).map(([type, media]) => [type, media.schema && type.endsWith("json") ? media.schema : null]),
      );
    }
    const schemes = (operation.security || spec.security || []).flatMap((requirement) => Object.keys(requirement));
    operations[`${method.toUpperCase()} ${route}`] = { id: operation.operationId, responses, schemes };
    // The converter names requests after the summary, else the description's first sentence.
    operation.summary = operation.summary || operation.operationId;
  }
}

const options = {
  folderStrategy: "Tags",
  requestNameSource: "Fallback",
  parametersResolution: "Example",
  enableOptionalParameters: false,
  alwaysInheritAuthentication: true,
  includeWebhooks: false,
};

converter.convertV2({ type: "json", data: spec }, options, (error, conversion) => {
  if (error || !conversion.result) {
    console.error("openapi-to-postmanv2:", error || conversion.reason);
    process.exit(1);
  }
  const collection = conversion.output[0].data;
  const pathVariables = new Set();
  for (const folder of collection.item) {
    for (const item of folder.item) {
      const request = item.request;
      const route = "/" + request.url.path.map((segment) => segment.replace(/^:(.+)$/, "{$1}")).join("/");
      const operation = operations[`${request.method} ${route}`];
      if (!operation) throw new Error(`no operation in the spec for ${request.method} ${route}`);
      item.id = operation.id;
      // The converter makes an example of every documented status: the successes are kept.
      item.response = item.response.filter((example) => example.code < 300);
      for (const variable of request.url.variable || []) {
        pathVariables.add(variable.key);
        variable.value = `{{${variable.key}}}`;
      }
      if (operation.schemes.length === 0) {
        request.auth = { type: "noauth" };
      } else if (!operation.schemes.includes("apiKey")) {
        request.auth = bearer("{{sessionToken}}");
      } else {
        delete request.auth; // inherited from the collection
      }
    }
  }
  // What ends a resource or the session (DELETE, logout) comes last in its folder: a folder run in
  // order uses the resources its variables name before it ends them.
  for (const folder of collection.item) {
    const ends = (item) => item.request.method === "DELETE" || item.request.url.path.at(-1) === "logout";
    folder.item.sort((a, b) => ends(a) - ends(b));
  }
  collection.info._postman_id = "5f0c7e52-13c0-4c1e-9d6e-0a9e5b0c1313";
  collection.auth = bearer("{{apiKey}}");
  collection.variable = [
    variable("baseUrl", "http://localhost:8080", "The gateway, without /api/v1 (make run listens on :8080)."),
    variable("apiKey", "", "Your organization's API key (pk_...), sent as the Bearer token."),
    variable("sessionToken", "", "A portal session (ps_..., the sessionToken of Sync User) for the portal user's own requests."),
    ...[...pathVariables].sort().map((name) => variable(name, "", "Path parameter of the requests that name it.")),
  ];
  collection.event = [{ listen: "test", script: { type: "text/javascript", exec: checks(operations).split("\n") } }];
  fs.writeFileSync(outputPath, JSON.stringify(collection, null, 1) + "\n");
});

function bearer(token) {
  return { type: "bearer", bearer: [{ key: "token", value: token, type: "string" }] };
}

function variable(key, value, description) {
  return { key, value, type: "string", description };
}

// The collection-level test script: it runs after every request and finds the request's operation
// by the request's id (the operationId).
function checks(byRoute) {
  const byId = Object.fromEntries(Object.values(byRoute).map((op) => [op.id, op.responses]));
  const documents = { components: spec.components, operations: byId };
  return `// Generated by tools/postman/build_collection.js from the OpenAPI description: each response is checked against it.
const spec = ${JSON.stringify(documents)};
const responses = spec.operations[pm.info.requestId];
if (responses) {
  const status = String(pm.response.code);
  const documented = responses[status];
  pm.test(\`\${status} is a documented status\`, () => pm.expect(Object.keys(responses)).to.include(status));
  if (documented && Object.keys(documented).length > 0) {
    const type = (pm.response.headers.get("Content-Type") || "").split(";")[0].trim();
    pm.test(\`\${type} is the documented content type\`, () => pm.expect(Object.keys(documented)).to.include(type));
    if (documented[type]) {
      const Ajv = require("ajv");
      const ajv = new Ajv({ unknownFormats: "ignore", validateSchema: false, allErrors: true });
      ajv.addSchema(spec, "spec");
      const pointer = ["operations", pm.info.requestId, status, type].map((k) => k.replace(/~/g, "~0").replace(/\\//g, "~1"));
      const validate = ajv.compile({ $ref: "spec#/" + pointer.join("/") });
      pm.test("the body matches the documented schema", () => {
        const valid = validate(pm.response.json());
        pm.expect(valid, JSON.stringify(validate.errors)).to.be.true;
      });
    }
  } else if (documented) {
    pm.test("no body, as documented", () => pm.expect(pm.response.text()).to.equal(""));
  }
}`;
}
