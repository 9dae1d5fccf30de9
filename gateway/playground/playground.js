// Swagger UI over the gateway's own OpenAPI description. "Authorize" takes an API key (pk_...) or a
// portal session (ps_...): it is kept in this page's memory only (not persisted), and "Execute" calls
// this same gateway with it as the Bearer token.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  filter: true,
  persistAuthorization: false,
  // No badge from the public validator: the page calls nothing but this gateway.
  validatorUrl: null,
});
