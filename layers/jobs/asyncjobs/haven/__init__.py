"""The Haven OnDemand-compatible API (`/1/...`): a facade over the job core, so code written for
Haven's API runs against this service with its base URL changed.

- `api`: the routes (sync, async, job, status, result) and the one place mapping errors to bodies;
- `params`: a request's parameters (query string, urlencoded or multipart form) and action inputs;
- `bodies`: jobs as Haven's status bodies (pure);
- `errors`: Haven's error codes and `{error, reason, detail}` bodies;
- `auth`: the `apikey` parameter, checked against the same key store as the bearer authorizer.

It submits, reads and waits for jobs through `jobs.use_cases` only: a Haven job is an ordinary
job of the tenant (listed by `/v2`, announced by events and webhooks).
"""
