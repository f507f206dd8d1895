"""Download URLs of result files are SigV4-signed (`aws/clients.py` asks for `s3v4`): S3 accepts
only SigV4 in regions opened since 2014 and for KMS-encrypted objects, while botocore may pick the
older scheme for some regions."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from asyncjobs.services import get_services


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_a_download_url_is_presigned_with_sigv4(harness, monkeypatch, region):
    from asyncjobs.aws import clients

    # Given the functions' S3 client in a region
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    clients.reset_clients()
    try:
        # When a result file's download URL is presigned
        url = get_services().files.download_url("results/acme/job/report.pdf", 3600)
    finally:
        clients.reset_clients()  # the next test's clients are made in its own region

    # Then it carries a SigV4 signature
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["3600"]
    assert "X-Amz-Signature" in query and f"/{region}/s3/aws4_request" in query["X-Amz-Credential"][0]
    assert "Signature" not in query and "AWSAccessKeyId" not in query  # not SigV2
