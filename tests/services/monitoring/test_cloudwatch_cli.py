"""CloudWatch Logs and metrics through the command line (``crispml monitoring …`` in this process)."""

from __future__ import annotations

import json
import time

from tests.cli.support import Run

GROUP = "/aws/sagemaker/TrainingJobs"


def test_logs_and_metrics_from_the_command_line(run: Run) -> None:
    assert run("monitoring", "create-log-group", "--log-group-name", GROUP).code == 0
    assert run("monitoring", "create-log-stream", "--log-group-name", GROUP,
               "--log-stream-name", "churn/algo-1-1").code == 0
    now = int(time.time() * 1000)  # the CLI runs on the wall clock
    events = json.dumps([{"timestamp": now, "message": "[0] train-rmse:0.41"},
                         {"timestamp": now + 1, "message": "[1] train-rmse:0.37"}])
    put = run("monitoring", "put-log-events", "--log-group-name", GROUP, "--log-stream-name", "churn/algo-1-1",
              "--log-events", events, "-o", "json").json()
    assert put["rejected_log_events_info"] is None

    table = run("monitoring", "get-log-events", "--log-group-name", GROUP, "--log-stream-name", "churn/algo-1-1",
                "--start-from-head")
    assert table.code == 0
    lines = table.out.splitlines()
    assert "message" in lines[1] and "ingestion time" in lines[1]  # a table's header row
    assert [n for n, line in enumerate(lines) if "train-rmse" in line] == [3, 4]
    page = run("monitoring", "get-log-events", "--log-group-name", GROUP, "--log-stream-name", "churn/algo-1-1",
               "--limit", "1", "-o", "json").json()
    assert [e["message"] for e in page["events"]] == ["[1] train-rmse:0.37"]
    older = run("monitoring", "get-log-events", "--log-group-name", GROUP, "--log-stream-name", "churn/algo-1-1",
                "--next-token", page["next_backward_token"], "-o", "json").json()
    assert [e["message"] for e in older["events"]] == ["[0] train-rmse:0.41"]

    metric = [{"MetricName": "train:rmse", "Dimensions": [{"Name": "Host", "Value": "churn/algo-1"}], "Value": 0.41}]
    assert run("monitoring", "put-metric-data", "--namespace", GROUP, "--metric-data", json.dumps(metric)).code == 0
    listed = run("monitoring", "list-metrics", "--namespace", GROUP)
    assert "train:rmse" in listed.out and '"value":"churn/algo-1"' in listed.out

    refused = run("monitoring", "get-log-events", "--log-group-name", "/missing", "--log-stream-name", "s")
    assert refused.code != 0 and "ResourceNotFoundException" in refused.err and "/missing" in refused.err
