"""End-to-end tests: real HTTP against the local stack started from template.yaml, or against a
deployed stack when E2E_BASE_URL is set (the ApiUrl output of `sam deploy`), with E2E_TENANT and
E2E_API_KEY (from `python -m tools.admin --stack <name> create-key <tenant>`). The `api` and
`local` fixtures live in tests/conftest.py: the client's tests (tests/client/) share the stack."""
