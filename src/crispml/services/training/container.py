"""Inside the job: what runs in the job's own process, as a SageMaker training container runs it.

The worker forks this process for each job (so a kept worker's next job
starts from the worker's state, never from the previous job's), points its
output at the worker's log pipe, and calls :func:`run`. It sets the training
toolkit's environment (``SM_MODEL_DIR``, ``SM_CHANNELS``, ``SM_CHANNEL_<NAME>``,
``SM_HPS``, ``SM_HP_<NAME>``, ``SM_NUM_CPUS`` … — the same names and JSON
shapes as the sagemaker-training toolkit, with this job's folders for
``/opt/ml``), limits the job to its CPUs (affinity and the native thread pools),
then runs a built-in algorithm or the user's script with ``--name value``
arguments, as the toolkit does. An exception ends the job: its traceback goes
to the log and its last lines to ``output/failure``, where the worker takes
the ``FailureReason`` from.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

from crispml.services.training.frameworks import SAGEMAKER_KEYS, decode, script_arguments
from crispml.services.training.layout import HOST, Layout

#: Lines of a traceback kept in FailureReason.
FAILURE_LINES = 12


def environment(layout: Layout, *, cpus: int, hyperparameters: dict[str, str], entry_point: str | None,
                extra: dict[str, str]) -> dict[str, str]:
    """The SM_* variables of the training toolkit for this job."""
    channels = layout.channels()
    hps = {k: _value(v) for k, v in hyperparameters.items() if not SAGEMAKER_KEYS.match(k)}
    env: dict[str, str] = {
        "SM_MODEL_DIR": str(layout.model_dir),
        "SM_INPUT_DIR": str(layout.input_dir),
        "SM_INPUT_CONFIG_DIR": str(layout.config_dir),
        "SM_OUTPUT_DIR": str(layout.output_dir),
        "SM_OUTPUT_DATA_DIR": str(layout.output_data_dir),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(layout.output_dir / "intermediate"),
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(hps),
        "SM_NUM_CPUS": str(cpus),
        "SM_NUM_GPUS": "0",
        "SM_NUM_NEURONS": "0",
        "SM_HOSTS": json.dumps([HOST]),
        "SM_CURRENT_HOST": HOST,
        "SM_CURRENT_INSTANCE_TYPE": "local",
        "SM_NETWORK_INTERFACE_NAME": "lo",
        "SM_INPUT_DATA_CONFIG": json.dumps(layout.input_data_config()),
        "SM_RESOURCE_CONFIG": json.dumps(layout.resource_config()),
        "SM_USER_ARGS": json.dumps(script_arguments(hyperparameters)),
        "SM_LOG_LEVEL": "20",
        "SM_CHECKPOINT_DIR": str(layout.checkpoint_dir),
        "OMP_NUM_THREADS": str(cpus),
        "OPENBLAS_NUM_THREADS": str(cpus),
        "MKL_NUM_THREADS": str(cpus),
        "PYTHONUNBUFFERED": "1",
    }
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = str(layout.channel_dir(channel))
    for key, value in hps.items():
        env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    if entry_point:
        env["SM_USER_ENTRY_POINT"] = entry_point
        env["SM_MODULE_NAME"] = Path(entry_point).stem
        env["SM_MODULE_DIR"] = str(layout.code_dir)
        env["SM_FRAMEWORK_MODULE"] = ""
    env["SM_TRAINING_ENV"] = json.dumps({
        "channel_input_dirs": {c: str(layout.channel_dir(c)) for c in channels},
        "current_host": HOST, "hosts": [HOST], "hyperparameters": hps,
        "input_data_config": layout.input_data_config(), "input_dir": str(layout.input_dir),
        "model_dir": str(layout.model_dir), "num_cpus": cpus, "num_gpus": 0,
        "output_data_dir": str(layout.output_data_dir), "output_dir": str(layout.output_dir),
        "resource_config": layout.resource_config(), "user_entry_point": entry_point,
        "module_name": Path(entry_point).stem if entry_point else None,
    })
    return {**env, **extra}


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def limit_cpus(cores: list[int]) -> None:
    """Run on ``cores`` only (the worker chose them, ``cores.py``), and size the native thread pools (OpenMP,
    BLAS) to them."""
    os.sched_setaffinity(0, cores)
    with contextlib.suppress(ImportError):  # scikit-learn brings threadpoolctl; without it, the env vars hold
        from threadpoolctl import threadpool_limits

        threadpool_limits(len(cores))


def run(layout: Layout, *, algorithm: str | None, hyperparameters: dict[str, str], cores: list[int],
        env: dict[str, str]) -> int:
    """Run the job in this (forked) process, on ``cores``; the exit status to leave with."""
    cpus = len(cores)
    os.chdir(layout.root)
    entry_point = decode(hyperparameters["sagemaker_program"]) if algorithm is None else None
    os.environ.update(environment(layout, cpus=cpus, hyperparameters=hyperparameters, entry_point=entry_point,
                                  extra=env))
    try:
        limit_cpus(cores)
        if algorithm is not None:
            from crispml.services.training import algorithms

            chosen = algorithms.get(algorithm)
            chosen.train(layout, chosen.validate(hyperparameters))
        else:
            assert entry_point is not None
            script = layout.code_dir / entry_point
            if not script.is_file():
                raise FileNotFoundError(f"the entry point {entry_point!r} is not in the source directory "
                                        f"(it holds: {', '.join(sorted(p.name for p in layout.code_dir.iterdir()))})")
            sys.path.insert(0, str(layout.code_dir))
            sys.argv = [str(script), *script_arguments(hyperparameters)]
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code != 0:
            _fail(layout, f"the script exited with status {code}" + (f": {exc.code}" if isinstance(exc.code, str)
                                                                       else ""))
        return code
    except BaseException as exc:
        traceback.print_exc()
        tail = traceback.format_exception(type(exc), exc, exc.__traceback__)
        lines = "".join(tail).rstrip().splitlines()
        _fail(layout, "\n".join(lines[-FAILURE_LINES:]))
        return 1
    return 0


def _fail(layout: Layout, reason: str) -> None:
    layout.failure_file.parent.mkdir(parents=True, exist_ok=True)
    if not layout.failure_file.exists():  # a script may write its own reason first, as on SageMaker
        layout.failure_file.write_text(reason)
