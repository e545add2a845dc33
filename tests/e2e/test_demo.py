"""``crispml demo`` end to end on a fresh home, then the home inspected.

The demo must run twice on the same home (the second run reuses the bucket),
leave the shipped penguins file byte for byte in the lake, write a report, and
leave its calls in the audit log. One home, two runs: first as a real child
process, as the README's command (its table output), then in this process (its
JSON summary) — on an S3 lake configured as a user would, by the environment.

Two runs, not three: the demo used to run twice on the file lake and once more
on S3. The S3 lake is the one the demo alone takes through training, tuning,
evaluation, the registry and serving (their own tests run on file://, where
every one of them is also tested), so both runs go there; what the file lake
run proved beyond that — the console script, the table output, a second run —
these two runs prove too. A run is ~45 s of two cores.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import crispml
from crispml.cli.main import main
from crispml.sdk.queries import run_query
from tests.cli.support import WIDE, Result, plain, run_cli, s3_env
from tests.fixtures.servers import S3Lake

RAW_KEY = "penguins/raw/penguins.csv"
RESOURCE = f"crn:crispml:lake:::bucket/demo-raw/{RAW_KEY}"


def _shipped_csv() -> bytes:
    return resources.files("palmerpenguins").joinpath("data", "penguins.csv").read_bytes()


def _check_summary(result: Result, home: Path) -> dict[str, Any]:
    assert result.code == 0, result.err
    assert "Traceback" not in result.out + result.err
    summary: dict[str, Any] = result.json()
    assert (summary["rows"], summary["columns"]) == (344, 8)
    assert summary["missing_values"] > 0
    report = Path(summary["report"])
    assert report == home.resolve() / "reports" / "demo.html"
    html = report.read_text(encoding="utf-8")
    assert "demo-raw" in html and "Audit" in html and RAW_KEY in html
    assert summary["table"] == "demo.penguins" and "demo.penguins" in html
    # SQL phase: the CTAS kept the rows with no missing value (344 - 11 without sex)
    assert (summary["clean_table"], summary["clean_rows"]) == ("demo.penguins_clean", 333)
    assert "CREATE TABLE demo.penguins_clean" in html and "Penguins per species and island" in html
    # streaming phase: every event put into the stream reached the lake once and was counted by SQL
    assert (summary["events_delivered"], summary["events_counted"]) == (1000, 1000)
    assert "Sightings per species" in html
    # modelling phase: xgboost cross-validated in 5 stratified folds and a script job, both Completed
    training = summary["training"]
    # one penguin in five of each species held out: 146, 68, 119 → 29 + 13 + 23 test rows
    assert (training["train_table"], training["train_rows"]) == ("demo.penguins_train", 268)
    assert (training["test_table"], training["test_rows"]) == ("demo.penguins_test", 65)
    assert (training["cv_status"], training["cv_folds"]) == ("Completed", 5)
    assert 0 <= training["cv_merror_mean"] < 0.1  # the species are easy to tell apart: ~98 % accuracy
    assert 0 < training["cv_mlogloss_mean"] < 0.3
    assert training["script_status"] == "Completed", training
    assert set(training["script_metrics"]) == {"train:accuracy", "test:accuracy"}
    assert 0.85 < training["script_metrics"]["test:accuracy"] <= 1
    assert all(m.endswith("/output/model.tar.gz") for m in training["models"]) and len(training["models"]) == 2
    assert "Cross-validation accuracy per fold" in html and training["cv_job"] in html
    # evaluation phase: both models judged on the held-out table, compared, the chosen one approved with lineage
    evaluation = summary["evaluation"]
    names = [f"eval-{training['cv_job']}", f"eval-{training['script_job']}"]
    assert evaluation["evaluations"] == dict.fromkeys(names, "Completed")
    assert (evaluation["test_table"], evaluation["test_rows"]) == ("demo.penguins_test", 65)
    assert all(0.9 < m["accuracy"] <= 1 and 0.9 < m["f1"] <= 1 for m in evaluation["metrics"].values())
    comparison = evaluation["comparison"]
    (accuracy,) = comparison["deltas"]
    assert accuracy["metric"] == "accuracy" and accuracy["ci_low"] <= accuracy["delta"] <= accuracy["ci_high"]
    assert 0 <= comparison["mcnemar"]["p_value"] <= 1 and comparison["verdicts"]
    registered = evaluation["registered"]
    assert registered["status"] == "Approved" and registered["training_job"] in (training["cv_job"],
                                                                               training["script_job"])
    assert registered["lineage_source"] == "table/demo.penguins_train" and registered["lineage_snapshot"]
    for name, copy in zip(names, evaluation["reports"], strict=True):
        assert Path(copy) == report.parent / f"{name}.html" and "<svg" in Path(copy).read_text(encoding="utf-8")
        assert f'href="{name}.html"' in html
    assert registered["version"] in html and str(registered["lineage_snapshot"]) in html
    # deployment phase: the approved version and the challenger at 80/20, then the challenger in shadow, captured
    deployment = summary["deployment"]
    assert deployment["versions"]["champion"] == registered["version"]
    split = deployment["split"]
    assert sum(split.values()) == 1000 and 0.72 < split["champion"] / 1000 < 0.88, split
    assert deployment["shadow_answered"] == {"champion": 200, "challenger": 0}
    # every answered request of each variant was captured: all 200 of the champion's, and each copy the shadow
    # answered (one the shadow could not answer, as its instance was busy on a loaded machine, has no answer to keep)
    by_variant = deployment["captured_by_variant"]
    said = _runtime_said(home)  # what the runtime said of its instances (dropped requests, failed pings)
    assert by_variant == {"champion": 200, "challenger": 200 - deployment["shadow_errors"]}, (deployment, said)
    assert deployment["captured_records"] == sum(by_variant.values()) and deployment["shadow_errors"] < 100, \
        (deployment, said)
    assert deployment["endpoint"] in html and "A/B split and latency" in html
    # tuning phase: 20 Bayesian trials of xgboost, the best evaluated on the held-out rows and registered
    tuning = summary["tuning"]
    assert (tuning["status"], tuning["trials"]) == ("Completed", 20), tuning
    assert tuning["completed"] + tuning["early_stopped"] == 20 and tuning["failed"] == 0
    assert tuning["best_job"].startswith(tuning["job"] + "-") and 0 < tuning["best_objective"] < 0.5
    assert tuning["evaluation_status"] == "Completed" and 0.9 < tuning["accuracy"] <= 1
    assert tuning["registered"].startswith("penguins/") and tuning["job"] in html
    batch = deployment["batch_transform"]
    assert (batch["status"], batch["rows"]) == ("Completed", 65) and batch["accuracy"] > 0.9
    assert summary["invoke_endpoint_events"] >= 1200  # each request that reached the front, audited
    return summary


def _all_events(client: Any, action: str) -> list[Any]:
    events: list[Any] = []
    token: str | None = None
    while True:
        page = client.audit.list_events(action=action, max_results=1000, **({"next_token": token} if token else {}))
        events += page.events
        token = page.next_token
        if not token:
            return events


def _runtime_said(home: Path) -> list[str]:
    """The serving runtime's last lines about its instances (for a failure's message)."""
    log = home / "serving" / "runtime.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [line for line in lines if "instance" in line][-20:]


def _check_home(home: Path, runs: int, **settings: Any) -> None:
    with crispml.connect(home=str(home), **settings) as client:
        got = client.lake.get_object(bucket="demo-raw", key=RAW_KEY)
        with got.body as body:
            assert body.read() == _shipped_csv()
        head = client.lake.head_object(bucket="demo-raw", key=RAW_KEY)
        assert head.metadata["source"] == "palmerpenguins"
        events = _all_events(client, "lake:PutObject")  # trials and transforms put hundreds of objects
        table = client.catalog.get_table(database_name="demo", name="penguins").table
        crawls = client.catalog.list_crawls(crawler_name="demo-raw-crawler").crawls
        clean = client.catalog.get_table(database_name="demo", name="penguins_clean").table
        partitions = client.catalog.get_partitions(database_name="demo", table_name="penguins_clean").partitions
        counts = run_query(client, "SELECT species, count(*) AS n, count(sex) AS sexed FROM demo.penguins_clean "
                                   "GROUP BY species ORDER BY species").records()
        parquet = [o.key for o in client.lake.list_objects_v2(bucket="demo-curated", prefix="penguins_clean/").contents]
        jobs = [client.training.describe_training_job(training_job_name=s.training_job_name)
                for s in client.training.list_training_jobs(max_results=100).training_job_summaries
                if not s.training_job_name.startswith("penguins-tune-")]  # the tuning phase's trials
        tunings = client.tuning.list_hyper_parameter_tuning_jobs().hyper_parameter_tuning_job_summaries
        train_table = client.catalog.get_table(database_name="demo", name="penguins_train").table
        test_table = client.catalog.get_table(database_name="demo", name="penguins_test").table
        evaluations = client.evaluation.list_evaluation_jobs().evaluation_job_summaries
        versions = client.registry.list_model_packages(model_package_group_name="penguins",
                                                       sort_order="Ascending").model_package_summary_list
        lineage = client.registry.get_model_package_lineage(model_package_name=f"penguins/{3 * runs - 2}").lineage
        runtime = client.serving.describe_runtime()
        endpoints = client.serving.list_endpoints().endpoints
    # the crawler typed the measurements although the raw file writes missing values as "NA"
    types = {c.name: c.type for c in table.storage_descriptor.columns}
    assert types["body_mass_g"] == "bigint" and types["bill_length_mm"] == "double"
    assert types["species"] == "string" and table.storage_descriptor.location == "lake://demo-raw/penguins/"
    assert len(crawls) == runs and all(c.state == "COMPLETED" for c in crawls)
    assert clean.parameters["classification"] == "parquet" and [k.name for k in clean.partition_keys] == ["species"]
    assert sorted(p.values[0] for p in partitions) == ["Adelie", "Chinstrap", "Gentoo"]
    assert counts == [{"species": "Adelie", "n": 146, "sexed": 146}, {"species": "Chinstrap", "n": 68, "sexed": 68},
                      {"species": "Gentoo", "n": 119, "sexed": 119}]
    assert len(parquet) == 3 and all(k.endswith(".parquet") for k in parquet)  # a re-run replaced the files
    # every run trained two jobs of its own name on the training table, pinned to its snapshot of that run
    assert len(jobs) == 2 * runs and all(j.training_job_status == "Completed" for j in jobs)
    assert sorted(j.algorithm_specification.algorithm_name or j.algorithm_specification.training_image
                  for j in jobs) == ["sklearn"] * runs + ["xgboost"] * runs
    assert train_table.parameters["table_type"] == "ICEBERG" and test_table.parameters["table_type"] == "ICEBERG"
    latest = sorted(jobs, key=lambda j: j.creation_time)[-2:]
    assert all(j.lineage.channels[0].source == "table/demo.penguins_train" and j.lineage.channels[0].rows == 268
               and j.lineage.channels[0].snapshot_id is not None and j.lineage.code_sha256 for j in latest)
    assert len({j.lineage.channels[0].snapshot_id for j in latest}) == 1
    # every run evaluated its two models and added one approved version, which learned from that run's snapshot
    assert len(evaluations) == 3 * runs and all(e.status == "Completed" for e in evaluations)
    # each run approved its better model (evaluation), registered the other one as the challenger (deployment)
    # and the best trial of its tuning job (tuning), both pending approval
    assert [(v.model_package_version, v.model_approval_status) for v in versions] == [
        (n, "Approved" if n % 3 == 1 else "PendingManualApproval") for n in range(1, 3 * runs + 1)]
    assert len(tunings) == runs and all(t.hyper_parameter_tuning_job_status == "Completed"
                                        and t.training_job_status_counters.completed
                                        + t.training_job_status_counters.stopped == 20 for t in tunings)
    assert runtime.status == "Stopped" and not endpoints  # the demo deletes its endpoint and stops the runtime
    assert lineage is not None and lineage.training_job_name in {j.training_job_name for j in latest}
    assert lineage.inputs[0].snapshot_id == latest[0].lineage.channels[0].snapshot_id
    puts = [e for e in events if e.resource == RESOURCE]
    assert len(puts) == runs
    assert all((e.outcome, e.source, e.principal) == ("Success", "cli", "root") for e in puts)


@pytest.mark.s3
def test_demo_runs_twice_on_one_s3_home(tmp_path: Path, s3_lake_url: S3Lake, capsysbinary: pytest.CaptureFixture[bytes],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "my home [1]"  # a space and brackets: paths are text, never markup or globs
    env = s3_env(s3_lake_url)
    # the README's first command, as a process of its own, with the lake set by the environment
    first = run_cli("demo", home=home, env=env, timeout=300)
    assert first.code == 0, first.err
    assert "created bucket demo-raw" in first.out and "344 rows" in first.out
    assert f"home {home}" in first.out and f"lake {s3_lake_url.url}" in first.out
    assert "Traceback" not in first.out + first.err

    # the second run in this process, on the same home: it reuses the bucket and the object
    for name, value in {**WIDE, **env}.items():
        monkeypatch.setenv(name, value)
    capsysbinary.readouterr()
    code = main(["--home", str(home), "demo", "--output", "json"])
    out, err = (plain(text.decode()) for text in capsysbinary.readouterr())
    second = Result(code, out, err)
    summary = _check_summary(second, home)
    assert summary["audit_events"] >= 4  # head, put, list, get of this run only
    _check_home(home, runs=2, lake_url=s3_lake_url.url, **s3_lake_url.kwargs)
