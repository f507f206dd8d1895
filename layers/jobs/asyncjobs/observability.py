"""One logger and one metrics object for the whole package.

Powertools' Tracer is left out on purpose: it imports the X-Ray SDK even when tracing is off and
roughly doubles cold start. Traces can be turned on with the function's Tracing setting alone.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

SERVICE = "asyncjobs"
NAMESPACE = "AsyncJobs"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# An invocation that records no metric (a 404, a re-announced event) is normal here; Powertools
# would print a warning into the function's log for each one.
warnings.filterwarnings("ignore", message="No application metrics to publish")
