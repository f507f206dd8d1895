"""The HTTP side of the API, and the only package that knows HTTP (Powertools' event handler):
the resolver (app), the error format (errors), the request gate (gate), OpenAPI (openapi), routes
declared from actions (routes) and Idempotency-Key (idempotency). No context imports it."""
