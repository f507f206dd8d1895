"""The HTTP side of the API, and the only package that knows HTTP (Powertools' event handler):
the resolver (app), the error format (errors; proxy for the answers given without a resolver), the
request gate (gate), OpenAPI (openapi), route building from actions (routes), Idempotency-Key
(idempotency), and the v2 API's routes and schemas (v2/jobs, v2/webhooks). No context imports it."""
