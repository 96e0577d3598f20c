// Starts Swagger UI (vendored swagger-ui-dist, see README.md beside this
// file) on the api's own OpenAPI document. No validator badge: it would
// call a public server, and the page must work offline.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
