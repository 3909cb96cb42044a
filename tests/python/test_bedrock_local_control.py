"""Conformance of bedrock-local's control plane with boto3's `bedrock` client: foundation models,
system and application inference profiles, tags, a runtime call through an application profile
ARN, paging, and errors as ClientError with the right code and status."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

SONNET_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_PROFILE = f"us.{SONNET_ID}"
SONNET_PROFILE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{SONNET_PROFILE}"
NOVA_LITE_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"


@pytest.fixture()
def control(bedrock_local):
    return bedrock_local.client("bedrock")


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def error_of(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def test_endpoint_from_aws_endpoint_url_bedrock(bedrock_local, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", bedrock_local.url)
    c = boto3.client(
        "bedrock",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert c.meta.endpoint_url == bedrock_local.url
    assert c.list_foundation_models()["modelSummaries"]


def test_foundation_models(control, bedrock):
    models = control.list_foundation_models()["modelSummaries"]
    by_id = {m["modelId"]: m for m in models}
    sonnet = by_id[SONNET_ID]
    assert sonnet["providerName"] == "Anthropic"
    assert sonnet["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_ID}"
    assert sonnet["inputModalities"] == ["TEXT", "IMAGE"] and sonnet["outputModalities"] == ["TEXT"]
    assert sonnet["responseStreamingSupported"] is True
    assert sonnet["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    assert by_id["amazon.titan-text-express-v1"]["inferenceTypesSupported"] == ["ON_DEMAND"]
    # Consistent with the runtime: every ON_DEMAND model is callable by its bare ID.
    for m in control.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]:
        if m["outputModalities"] == ["TEXT"]:
            bedrock.converse(modelId=m["modelId"], messages=user("hi"))
    meta = control.list_foundation_models(byProvider="Meta")["modelSummaries"]
    assert meta and all(m["modelId"].startswith("meta.") for m in meta)
    embed = control.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    assert {m["modelId"] for m in embed} == {"amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"}
    assert control.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"] == []
    got = control.get_foundation_model(modelIdentifier=NOVA_LITE_ARN)["modelDetails"]
    assert got["modelId"] == "amazon.nova-lite-v1:0"
    with pytest.raises(ClientError) as e:
        control.get_foundation_model(modelIdentifier="amazon.nope-v1:0")
    assert error_of(e)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        control.list_foundation_models(byOutputModality="SMELL")
    code, status, message = error_of(e)
    assert (code, status) == ("ValidationException", 400) and "byOutputModality" in message


def test_system_profiles_paged(control):
    pages = control.get_paginator("list_inference_profiles").paginate(
        typeEquals="SYSTEM_DEFINED", PaginationConfig={"PageSize": 10}
    )
    summaries = [s for page in pages for s in page["inferenceProfileSummaries"]]
    assert len(summaries) > 10
    ids = [s["inferenceProfileId"] for s in summaries]
    assert len(ids) == len(set(ids))
    assert SONNET_PROFILE in ids and "global.amazon.nova-pro-v1:0" not in ids
    assert all(s["type"] == "SYSTEM_DEFINED" and s["status"] == "ACTIVE" for s in summaries)
    first = control.list_inference_profiles(typeEquals="SYSTEM_DEFINED", maxResults=10)
    assert len(first["inferenceProfileSummaries"]) == 10 and first["nextToken"]
    for ident in (SONNET_PROFILE, SONNET_PROFILE_ARN):
        p = control.get_inference_profile(inferenceProfileIdentifier=ident)
        assert p["inferenceProfileArn"] == SONNET_PROFILE_ARN
        assert all(m["modelArn"].endswith(SONNET_ID) for m in p["models"])
    with pytest.raises(ClientError) as e:
        control.list_inference_profiles(nextToken="not-a-token")
    assert error_of(e)[:2] == ("ValidationException", 400)


def test_application_profile_lifecycle(control, bedrock):
    created = control.create_inference_profile(
        inferenceProfileName="py-team-chat",
        description="Python team",
        modelSource={"copyFrom": SONNET_PROFILE_ARN},
        tags=[{"key": "team", "value": "py"}],
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201 and created["status"] == "ACTIVE"
    arn = created["inferenceProfileArn"]
    prefix = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"
    assert arn.startswith(prefix) and len(arn.removeprefix(prefix)) == 12
    got = control.get_inference_profile(inferenceProfileIdentifier=arn)
    assert got["inferenceProfileName"] == "py-team-chat" and got["type"] == "APPLICATION"
    assert got["createdAt"] and len(got["models"]) == 3
    apps = control.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert arn in [a["inferenceProfileArn"] for a in apps]

    # The runtime routes the ARN to the profile's model: same answer as the system profile.
    via_arn = bedrock.converse(modelId=arn, messages=user("route me"))
    direct = bedrock.converse(modelId=SONNET_PROFILE, messages=user("route me"))
    assert via_arn["output"] == direct["output"]
    body = json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    )
    native = json.loads(bedrock.invoke_model(modelId=arn, body=body)["body"].read())
    assert native["type"] == "message"

    control.tag_resource(resourceARN=arn, tags=[{"key": "env", "value": "dev"}, {"key": "team", "value": "core"}])
    control.untag_resource(resourceARN=arn, tagKeys=["env"])
    assert control.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "core"}]

    control.delete_inference_profile(inferenceProfileIdentifier=arn)
    with pytest.raises(ClientError) as e:
        control.get_inference_profile(inferenceProfileIdentifier=arn)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        bedrock.converse(modelId=arn, messages=user("hi"))
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_conflicts_and_validation(control):
    control.create_inference_profile(inferenceProfileName="py-dup", modelSource={"copyFrom": NOVA_LITE_ARN})
    # ConflictException is HTTP 400 in the service model (not 409).
    with pytest.raises(ClientError) as e:
        control.create_inference_profile(inferenceProfileName="py-dup", modelSource={"copyFrom": NOVA_LITE_ARN})
    assert error_of(e)[:2] == ("ConflictException", 400)
    token = "py-token-1"
    a = control.create_inference_profile(
        inferenceProfileName="py-idem", modelSource={"copyFrom": NOVA_LITE_ARN}, clientRequestToken=token
    )
    b = control.create_inference_profile(
        inferenceProfileName="py-idem", modelSource={"copyFrom": NOVA_LITE_ARN}, clientRequestToken=token
    )
    assert a["inferenceProfileArn"] == b["inferenceProfileArn"]
    for name, source, needle in [
        ("bad name!", NOVA_LITE_ARN, "regular expression pattern"),
        ("x" * 65, NOVA_LITE_ARN, "less than or equal to 64"),
        ("py-ok", "amazon.nova-lite-v1:0", "modelSource.copyFrom"),
    ]:
        with pytest.raises(ClientError) as e:
            control.create_inference_profile(inferenceProfileName=name, modelSource={"copyFrom": source})
        code, status, message = error_of(e)
        assert (code, status) == ("ValidationException", 400) and needle in message, message
    with pytest.raises(ClientError) as e:
        control.create_inference_profile(
            inferenceProfileName="py-ghost",
            modelSource={"copyFrom": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nope-v1:0"},
        )
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        control.delete_inference_profile(inferenceProfileIdentifier=SONNET_PROFILE)
    assert error_of(e)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        control.get_inference_profile(inferenceProfileIdentifier="abcdefabcdef")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
