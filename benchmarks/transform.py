"""Batch transform's rows per second against the same model predicting in this process.

``python benchmarks/transform.py`` measures, on a temporary embedded home (SQLite + file://):

1. **A transform job** over 200,000 CSV rows × 10 features in 4 files (text/csv, SplitType Line,
   MultiRecord, MaxPayloadInMB 6, Accept text/csv, AssembleWith Line) with a binary xgboost model (100
   rounds of depth 6, trained here on 20,000 rows and registered with CreateModel), with 1 instance and
   with 2 (when the machine has 2 CPUs or more). Three figures per job: rows / (CreateTransformJob →
   Completed), the caller's view, which includes starting the worker and its instances (a few seconds
   of Python imports); rows / (TransformStartTime → TransformEndTime), the worker's own run; and rows /
   (the instances answering /ping → TransformEndTime), the transform proper.
2. **The baseline**: the same model, loaded by the same built-in handler the instances use
   (``builtin_algorithm("xgboost").load/predict``), answering each file's bytes in this process as one
   request — read CSV, predict, write CSV — with the threads of one of 2 instances. The ratio
   in-process / transform proper says what the job's processes, HTTP and lake cost; 2 instances / 1
   says how the work spreads.
3. **SingleRecord** over 20,000 of the rows (one request per row, one instance): requests per second
   once the instance answered /ping, the per-request cost of the worker → instance path (no baseline:
   the figure is the point).

Timings are medians of ``--repeat`` runs. ``--quick`` uses 50,000 rows (5,000 for SingleRecord); ``--only``
picks parts. It asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BUCKET = "bench-transform"
FEATURES = 10
FILES = 4
TRAIN_ROWS = 20_000


def features(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, FEATURES)).astype(np.float32)


def csv_bytes(x: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, x, delimiter=",", fmt="%.7g")
    return buffer.getvalue().encode()


def train() -> bytes:
    """A model.tar.gz holding a binary xgboost booster (100 rounds of depth 6)."""
    import xgboost as xgb

    x = features(TRAIN_ROWS, seed=1)
    weights = np.random.default_rng(0).normal(size=FEATURES)
    y = (x @ weights + 0.5 * np.sin(3 * x[:, 0]) * x[:, 1] > 0).astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.3, "tree_method": "hist"},
                        xgb.DMatrix(x, label=y), num_boost_round=100)
    raw = bytes(booster.save_raw("json"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def run_job(client: Any, name: str, prefix: str, instances: int,
            strategy: str = "MultiRecord") -> tuple[float, float, float]:
    """Seconds from CreateTransformJob to Completed, from TransformStartTime to TransformEndTime, and from the
    instances' answering /ping to TransformEndTime."""
    started = time.perf_counter()
    client.serving.create_transform_job(
        transform_job_name=name, model_name="bench-xgb", batch_strategy=strategy,
        transform_input={"DataSource": {"S3DataSource": {"S3Uri": f"lake://{BUCKET}/{prefix}/"}},
                         "ContentType": "text/csv", "SplitType": "Line"},
        transform_output={"S3OutputPath": f"lake://{BUCKET}/out/{name}/", "Accept": "text/csv",
                          "AssembleWith": "Line"},
        transform_resources={"InstanceType": "ml.m5.large", "InstanceCount": instances})
    while (job := client.serving.describe_transform_job(transform_job_name=name)).transform_job_status in (
            "InProgress", "Stopping"):
        time.sleep(0.05)
    caller = time.perf_counter() - started
    if job.transform_job_status != "Completed":
        raise SystemExit(f"transform job {name} ended {job.transform_job_status}: {job.failure_reason}")
    end = job.transform_end_time
    return (caller, (end - job.transform_start_time).total_seconds(),
            (end - job.progress.instances_ready_time).total_seconds())


def in_process(files: list[bytes], model_dir: Path, threads: int) -> float:
    """Seconds for the built-in handler to answer each file in this process."""
    import xgboost as xgb

    from crispml.services.training.service import builtin_algorithm

    algorithm = builtin_algorithm("xgboost")
    model = algorithm.load(model_dir)
    with xgb.config_context(nthread=threads):
        model.set_param({"nthread": threads})
        started = time.perf_counter()
        for body in files:
            algorithm.predict(model, body, "text/csv", "text/csv")
        return time.perf_counter() - started


def main() -> None:
    import crispml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 rows (5,000 for SingleRecord)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("multi", "single"), action="append", help="run only these parts")
    args = parser.parse_args()
    parts = args.only or ["multi", "single"]
    rows = 50_000 if args.quick else 200_000
    single_rows = 5_000 if args.quick else 20_000
    cpus = len(os.sched_getaffinity(0))
    counts = [1, 2] if cpus >= 2 else [1]
    work = Path(tempfile.mkdtemp(prefix="crispml-bench-transform-"))
    try:
        artifact = train()
        (work / "model").mkdir()
        with tarfile.open(fileobj=io.BytesIO(artifact)) as archive:
            archive.extractall(work / "model", filter="data")
        x = features(rows, seed=2)
        files = [csv_bytes(part) for part in np.array_split(x, FILES)]
        with crispml.connect(home=str(work / "home")) as client:
            client.lake.create_bucket(bucket=BUCKET)
            client.fs.pipe_file(f"lake://{BUCKET}/model/model.tar.gz", artifact)
            client.registry.create_model(model_name="bench-xgb", primary_container={
                "Image": "xgboost", "ModelDataUrl": f"lake://{BUCKET}/model/model.tar.gz"})
            for number, body in enumerate(files):
                client.fs.pipe_file(f"lake://{BUCKET}/rows/part-{number}.csv", body)
            client.fs.pipe_file(f"lake://{BUCKET}/single/part-0.csv", csv_bytes(x[:single_rows]))
            print(f"rows: {rows:,} x {FEATURES} features in {FILES} files ({sum(map(len, files)) / 1e6:.1f} MB of "
                  f"CSV); CPUs: {cpus}")
            if "multi" in parts:
                in_process(files[:1], work / "model", 1)  # imports, outside the timings
                local = statistics.median(in_process(files, work / "model", max(1, cpus // counts[-1]))
                                          for _ in range(args.repeat))
                print(f"in-process handler (read CSV, predict, write CSV): {rows / local:,.0f} rows/s")
                figures: dict[int, float] = {}
                for count in counts:
                    runs = [run_job(client, f"bench-{count}-{n}", "rows", count) for n in range(args.repeat)]
                    caller, own, transforming = (statistics.median(r[i] for r in runs) for i in range(3))
                    figures[count] = transforming
                    print(f"transform job, {count} instance(s), MultiRecord: {rows / caller:,.0f} rows/s create → "
                          f"Completed ({caller:.2f} s), {rows / own:,.0f} rows/s in the worker's run ({own:.2f} s), "
                          f"{rows / transforming:,.0f} rows/s once the instances answered /ping "
                          f"({transforming:.2f} s): ratio to in-process {local / transforming:.2f}")
                if len(figures) == 2:
                    print(f"2 instances / 1 instance, once they answered /ping: {figures[1] / figures[2]:.2f}x the "
                          "rows/s")
            if "single" in parts:
                runs = [run_job(client, f"bench-single-{n}", "single", 1, "SingleRecord") for n in range(args.repeat)]
                transforming = statistics.median(r[2] for r in runs)
                print(f"transform job, 1 instance, SingleRecord over {single_rows:,} rows: "
                      f"{single_rows / transforming:,.0f} requests/s once the instance answered /ping "
                      f"({transforming:.2f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
