"""Documents on S3-compatible storage, against a local S3 server (moto), never the network."""

import pytest
from django.core.files.storage import storages

from kyc.models import KycDocument
from tests.kyc.conftest import prepared

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(settings):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    options = {
        "bucket_name": "kyc-docs",
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "access_key": "test",
        "secret_key": "test",
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
        "object_parameters": {"ServerSideEncryption": "AES256"},
    }
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="kyc-docs")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    storages._storages.clear()
    KycDocument._meta.get_field("file").storage = storages["default"]
    yield boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    from django.core.files.storage import default_storage

    storages._storages.clear()
    KycDocument._meta.get_field("file").storage = default_storage
    server.stop()


def test_documents_go_to_the_bucket_private_and_encrypted(s3, client):
    from tests.conftest import login

    user, submission = prepared()
    document = submission.documents.get(kind="passport")
    key = document.file.name
    head = s3.head_object(Bucket="kyc-docs", Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    acl = s3.get_object_acl(Bucket="kyc-docs", Key=key)
    assert not any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in acl["Grants"])
    login(client, user)
    response = client.get(f"/portal/verify/documents/{document.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"  # the JPEG back, via our view
