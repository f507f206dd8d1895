"""Webhooks: subscriptions (models, store), delivery of job events to them (delivery, signing,
http_client) and the checks that keep deliveries off private networks (ssrf)."""
