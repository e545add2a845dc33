"""Model package groups and versions: numbering, approval with who and when, listing, deletion rules."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import Conflict, InvalidArgument, NotFound
from crispml.sdk.client import Client
from tests.fixtures.homes import once_on_sqlite
from tests.services.registry.conftest import spec

ARN = "arn:aws:sagemaker:us-east-1:000000000000:model-package"


def test_versions_are_numbered_from_1_in_each_group(registry_home: Client) -> None:
    registry = registry_home.registry
    for group in ("churn", "fraud"):
        registry.create_model_package_group(model_package_group_name=group,
                                            model_package_group_description=f"{group} models")
    arns = [registry.create_model_package(model_package_group_name="churn", inference_specification=spec()
                                          ).model_package_arn for _ in range(3)]
    assert arns == [f"{ARN}/churn/1", f"{ARN}/churn/2", f"{ARN}/churn/3"]
    other = registry.create_model_package(model_package_group_name="fraud", inference_specification=spec())
    assert other.model_package_arn == f"{ARN}/fraud/1"
    described = registry.describe_model_package(model_package_name=arns[1])
    assert (described.model_package_group_name, described.model_package_version) == ("churn", 2)
    assert described.model_approval_status == "PendingManualApproval"
    assert described.inference_specification.containers[0].model_data_url.startswith("lake://reg-data/")
    group = registry.describe_model_package_group(model_package_group_name="churn")
    assert group.model_package_group_description == "churn models" and group.model_package_group_status == "Completed"


def test_concurrent_registrations_take_distinct_numbers(registry_home: Client) -> None:
    registry_home.registry.create_model_package_group(model_package_group_name="race")
    arns: list[str] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            arns.append(registry_home.registry.create_model_package(model_package_group_name="race",
                                                           inference_specification=spec()).model_package_arn)
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=register) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(int(a.rsplit("/", 1)[1]) for a in arns) == [1, 2, 3, 4, 5, 6]


def test_approval_records_who_changed_it_when_and_why(registry_home: Client, clock: FixedClock) -> None:
    registry = registry_home.registry
    registry.create_model_package_group(model_package_group_name="churn")
    created = clock.now()
    arn = registry.create_model_package(model_package_group_name="churn", inference_specification=spec(),
                                        customer_metadata_properties={"team": "growth"}).model_package_arn
    clock.advance(seconds=90)
    registry.update_model_package(model_package_arn=arn, model_approval_status="Approved",
                                  approval_description="AUC 0.91 on the holdout",
                                  customer_metadata_properties={"ticket": "ML-7"})
    version = registry.describe_model_package(model_package_name="churn/1")
    assert version.model_approval_status == "Approved"
    assert version.approval_description == "AUC 0.91 on the holdout"
    assert version.last_modified_by.user_profile_name == registry_home.principal
    assert version.last_modified_time == created + timedelta(seconds=90)
    assert version.creation_time == created
    assert version.customer_metadata_properties == {"team": "growth", "ticket": "ML-7"}
    assert [(c.previous_status, c.model_approval_status, c.change_time) for c in version.approval_history] == [
        (None, "PendingManualApproval", created), ("PendingManualApproval", "Approved", version.last_modified_time)]
    assert version.approval_history[-1].changed_by == registry_home.principal


def test_list_model_packages_filters_by_group_and_status_and_pages(registry_home: Client, clock: FixedClock) -> None:
    registry = registry_home.registry
    for group in ("churn", "fraud"):
        registry.create_model_package_group(model_package_group_name=group)
    for group, status in (("churn", "Approved"), ("churn", "Rejected"), ("churn", "Approved"),
                          ("fraud", "Approved")):
        clock.advance(seconds=1)
        registry.create_model_package(model_package_group_name=group, inference_specification=spec(),
                                      model_approval_status=status)

    def listed(**filters: object) -> list[tuple[str, int]]:
        return [(p.model_package_group_name, p.model_package_version)
                for p in registry.list_model_packages(**filters).model_package_summary_list]
    assert listed(model_package_group_name="churn", model_approval_status="Approved") == [("churn", 3), ("churn", 1)]
    assert listed(model_approval_status="Rejected") == [("churn", 2)]
    assert listed(sort_by="Name", sort_order="Ascending") == [("churn", 1), ("churn", 2), ("churn", 3), ("fraud", 1)]
    first = registry.list_model_packages(model_package_group_name="churn", sort_order="Ascending", max_results=2)
    assert [p.model_package_version for p in first.model_package_summary_list] == [1, 2]
    rest = registry.list_model_packages(model_package_group_name="churn", sort_order="Ascending",
                                        next_token=first.next_token)
    assert [p.model_package_version for p in rest.model_package_summary_list] == [3] and rest.next_token is None
    groups = registry.list_model_package_groups(name_contains="ur").model_package_group_summary_list
    assert [g.model_package_group_name for g in groups] == ["churn"]


def test_a_group_with_versions_is_not_deleted(registry_home: Client) -> None:
    registry = registry_home.registry
    registry.create_model_package_group(model_package_group_name="churn")
    for _ in range(2):
        registry.create_model_package(model_package_group_name="churn", inference_specification=spec())
    with pytest.raises(Conflict, match=r"'churn' still has 2 version\(s\) \(1, 2\)") as refused:
        registry.delete_model_package_group(model_package_group_name="churn")
    assert refused.value.code == "ResourceInUse"
    for version in (1, 2):
        registry.delete_model_package(model_package_name=f"churn/{version}")
    registry.delete_model_package_group(model_package_group_name="churn")
    assert registry.list_model_package_groups().model_package_group_summary_list == []


@once_on_sqlite
def test_bad_input_is_refused_with_what_to_do(registry_home: Client) -> None:
    registry = registry_home.registry
    registry.create_model_package_group(model_package_group_name="churn")
    registry.create_model_package(model_package_group_name="churn", inference_specification=spec())
    with pytest.raises(NotFound, match=r"'churn' has no version 7 \(its versions are 1\)") as missing:
        registry.update_model_package(model_package_arn=f"{ARN}/churn/7", model_approval_status="Approved")
    assert missing.value.code == "ResourceNotFound"
    with pytest.raises(NotFound, match=r"model package group 'chrun' does not exist \(did you mean 'churn'\?\)"):
        registry.describe_model_package(model_package_name="chrun/1")
    with pytest.raises(InvalidArgument, match="name it by its ARN"):
        registry.describe_model_package(model_package_name="churn")
    with pytest.raises(InvalidArgument, match="neither a built-in algorithm"):
        registry.create_model_package(model_package_group_name="churn", inference_specification=spec("tensorflow-x"))
    with pytest.raises(InvalidArgument, match="does not exist in the lake"):
        registry.create_model_package(model_package_group_name="churn",
                                      inference_specification=spec(url="s3://reg-data/nothing.tar.gz"))
    with pytest.raises(InvalidArgument, match="SAGEMAKER_PROGRAM"):
        registry.create_model_package(model_package_group_name="churn", inference_specification=spec("sklearn"))
    with pytest.raises(InvalidArgument, match="InferenceSpecification"):
        registry.create_model_package(model_package_group_name="churn")
    with pytest.raises(InvalidArgument, match="ModelCardContent must be a JSON"):
        registry.create_model_package(model_package_group_name="churn", inference_specification=spec(),
                                      model_card={"ModelCardContent": "intended for churn"})
    with pytest.raises(Conflict, match="already exists"):
        registry.create_model_package_group(model_package_group_name="churn")
    assert [p.model_package_version for p in registry.list_model_packages().model_package_summary_list] == [1]


def test_models_are_created_listed_and_deleted(registry_home: Client, clock: FixedClock) -> None:
    registry = registry_home.registry
    registry.create_model_package_group(model_package_group_name="churn")
    card = '{"intended_uses": {"purpose_of_model": "churn"}, "additional_information": {"caveats": "EU only"}}'
    registry.create_model_package(model_package_group_name="churn", inference_specification=spec(),
                                  model_card={"ModelCardContent": card, "ModelCardStatus": "PendingReview"})
    assert registry.describe_model_package(model_package_name="churn/1").model_card.model_card_status == \
        "PendingReview"
    for name in ("churn-a", "churn-b", "other"):
        clock.advance(seconds=1)
        registry.create_model(model_name=name, primary_container={"Image": "xgboost",
                                                                  "ModelDataUrl": "s3://reg-data/models/model.tar.gz"},
                              tags=[{"Key": "team", "Value": "growth"}])
    registry.create_model(model_name="from-package", primary_container={"ModelPackageName": "churn/1"})
    model = registry.describe_model(model_name="churn-a")
    assert model.primary_container.model_data_url == "lake://reg-data/models/model.tar.gz"
    assert model.model_arn.endswith(":model/churn-a") and model.tags[0].value == "growth"
    assert registry.describe_model(model_name="from-package").primary_container.image == "xgboost"
    page = registry.list_models(name_contains="churn", max_results=1)
    assert [m.model_name for m in page.models] == ["churn-b"]
    assert [m.model_name for m in registry.list_models(name_contains="churn", next_token=page.next_token).models] \
        == ["churn-a"]
    registry.delete_model(model_name="churn-a")
    with pytest.raises(NotFound, match="model 'churn-a' does not exist"):
        registry.describe_model(model_name="churn-a")
    with pytest.raises(Conflict, match="already exists"):
        registry.create_model(model_name="other", primary_container={"ModelPackageName": "churn/1"})
