"""The HTTP side of the API, and the only package that knows HTTP: the functions' router (router,
params), the error format (errors; proxy for the answers given without a router), the request
gate (gate), the OpenAPI document, built offline by Powertools' event handler from the same routes
(openapi) and served from the layer's committed copy at GET /openapi.json (openapi_document),
route building from actions (routes), Idempotency-Key (idempotency), and the v2 API's routes and
request bodies (v2/jobs, v2/files, v2/webhooks, v2/bodies, v2/webhook_bodies). No context imports
it."""
