"""Data-parallel training on several worker processes: ``tf.distribute.MultiWorkerMirroredStrategy``.

Explained in chapter 11, *Scaling out* (``chapters/11_scaling_out.ipynb``).

Every worker is a separate Python process (here on one machine, elsewhere one per machine) that
reads its place in the cluster from the ``TF_CONFIG`` environment variable (:func:`tf_config`),
holds a full copy of the model, trains on its share of every global batch and adds its gradients
to the others' (an all-reduce) before every update, so that all copies stay identical. The
TensorFlow guide *Multi-worker training with Keras* describes the set-up.

The training loop is written out (:func:`train_worker`): ``strategy.experimental_distribute_dataset``
splits each global batch among the workers, ``strategy.run`` runs one step on each, the loss is
``tf.nn.compute_average_loss`` (each worker's sum of losses divided by the *global* batch size, so
that the all-reduced gradient is the gradient of the global mean), and the Keras model and optimizer
are created inside ``strategy.scope()``. Keras 3's ``Model.fit`` under this strategy stops on two
local workers with "unsupported type PerReplica" (keras-team/keras#20585); ``mode='fit'`` tries
``fit`` first and, when it fails, records the error and trains with the loop, so the chapter shows
the failure instead of asserting it (and would use ``fit`` once a Keras release fixes it).

:func:`launch` starts the workers (``python -m helpers.multiworker SPEC --index i``), waits for
them and returns what each one measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from helpers.backend import require_chapters

require_chapters(__name__, ("tensorflow", "keras", "pandas", "scipy"))  # the "chapters" extra, checked first

import numpy as np  # noqa: E402

from helpers.config import DEFAULT_SEED, set_seed  # noqa: E402
from helpers.errors import DataError, ParameterError  # noqa: E402
from helpers.files import atomic_path  # noqa: E402
from helpers.models.mfcc import SEGMENT_SHAPE, build_report_cnn  # noqa: E402

#: The networks :func:`train_worker` can build.
MODELS = ("report", "plain")
#: ``mode='loop'``: the written-out training loop; ``mode='fit'``: Keras' ``Model.fit``, else the loop.
MODES = ("loop", "fit")


def tf_config(ports: Sequence[int], index: int, host: str = "localhost") -> dict:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers on ``host:port`` for each port.

    Explained in chapter 11, *Scaling out*. On several machines each worker gets the same
    ``cluster`` (every worker's ``host:port``) and its own ``task.index``; worker 0 is the chief.
    """
    ports = [int(p) for p in ports]
    if not ports or not 0 <= index < len(ports):
        raise ParameterError(f"worker index {index} is not among {len(ports)} workers")
    return {"cluster": {"worker": [f"{host}:{port}" for port in ports]},
            "task": {"type": "worker", "index": int(index)}}


def free_ports(n: int) -> list[int]:
    """``n`` TCP ports on localhost that are free now (the operating system picks them)."""
    sockets = []
    try:
        for _ in range(n):
            sock = socket.socket()
            sock.bind(("localhost", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def build_plain_report_cnn(input_shape=(*SEGMENT_SHAPE, 1), n_classes: int = 10):
    """The report's CNN without its BatchNormalization and Dropout layers.

    Explained in chapter 11, *Scaling out*: both make a data-parallel run differ from a
    single-worker run by design (each worker normalises with its own share of the batch, and
    draws its own dropout masks). Without them the two runs compute the same gradients, up to the
    order of floating-point additions, and can be compared to a tolerance.
    """
    import keras
    from keras import layers

    full = build_report_cnn(input_shape, n_classes)
    kept = [layer for layer in full.layers if not isinstance(layer, (layers.BatchNormalization, layers.Dropout))]
    return keras.Sequential([keras.Input(shape=full.input_shape[1:]), *kept], name="report_cnn_plain")


def _short_error(error: BaseException) -> str:
    """An exception as one readable line (the tensors inside a PerReplica repr left out)."""
    text = re.sub(r"PerReplica:\{.*?\n\}", "PerReplica:{...}", str(error), flags=re.S)
    return f"{type(error).__name__}: {' '.join(text.split())}"[:400]


def train_worker(spec: dict) -> dict:
    """Train one worker of a multi-worker run (call it in a process whose ``TF_CONFIG`` is set).

    Explained in chapter 11, *Scaling out*.

    Parameters
    ----------
    spec : dict
        ``data``: an ``.npz`` with ``X_train``, ``y_train``, ``X_test``, ``y_test``;
        ``model``: one of :data:`MODELS`; ``bn_momentum`` (the report CNN's, default Keras' 0.99;
        chapter 6 explains why short runs want 0.9); ``mode``: one of :data:`MODES`; ``epochs``;
        ``global_batch`` (split among the workers); ``learning_rate``; ``seed``; ``threads``
        (TensorFlow's intra- and inter-op threads in this process).

    Returns
    -------
    dict
        ``index``, ``workers``, ``losses`` (mean training loss per epoch, all-reduced),
        ``epoch_seconds``, ``steps_per_epoch``, ``global_batch``, ``parameters`` (the model's
        weights), ``test_accuracy`` (per segment, on ``X_test``), ``checksum`` (sum of
        the absolute weights: equal on every worker), ``error`` (None, or the one-line error of
        ``Model.fit`` when ``mode='fit'`` failed and the loop trained instead), ``tensorflow`` and
        ``keras`` (versions).
    """
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf.config.threading.set_intra_op_parallelism_threads(int(spec["threads"]))
    tf.config.threading.set_inter_op_parallelism_threads(int(spec["threads"]))
    import keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    index = int(config.get("task", {}).get("index", 0))
    set_seed(int(spec["seed"]), with_tensorflow=True)
    with np.load(spec["data"]) as stored:
        X_train, y_train = stored["X_train"].astype(np.float32), stored["y_train"].astype(np.int32)
        X_test, y_test = stored["X_test"].astype(np.float32), stored["y_test"]
    global_batch = int(spec["global_batch"])
    if global_batch % strategy.num_replicas_in_sync or global_batch > len(X_train):
        raise ParameterError(f"global batch {global_batch} must divide among {strategy.num_replicas_in_sync} "
                             f"replicas and not exceed the {len(X_train)} training rows")
    steps_per_epoch = len(X_train) // global_batch
    # One repeated pipeline for all epochs (reshuffled on every pass), as in chapter 6's fit_model:
    # a distributed dataset that runs out and restarts after every epoch stalled each epoch end
    # for seconds on two local workers here.
    data = (tf.data.Dataset.from_tensor_slices((X_train, y_train))
            .shuffle(len(X_train), seed=int(spec["seed"]), reshuffle_each_iteration=True)
            .batch(global_batch, drop_remainder=True).repeat())
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = data.with_options(options)  # every worker keeps its part of each global batch
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    with strategy.scope():
        if spec["model"] == "report":
            model = build_report_cnn(X_train.shape[1:], n_classes, bn_momentum=float(spec.get("bn_momentum", 0.99)))
        else:
            model = build_plain_report_cnn(X_train.shape[1:], n_classes)
        optimizer = keras.optimizers.Adam(float(spec["learning_rate"]))
    result = {"index": index, "workers": strategy.num_replicas_in_sync, "losses": [], "epoch_seconds": [],
              "steps_per_epoch": steps_per_epoch, "global_batch": global_batch,
              "test_accuracy": None, "checksum": None, "error": None,
              "tensorflow": tf.__version__, "keras": keras.__version__}

    fitted = False
    if spec["mode"] == "fit":
        with strategy.scope():
            model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        try:
            start = time.perf_counter()
            history = model.fit(data, epochs=int(spec["epochs"]), steps_per_epoch=steps_per_epoch, verbose=0)
            result["losses"] = [float(v) for v in history.history["loss"]]
            result["epoch_seconds"] = [(time.perf_counter() - start) / int(spec["epochs"])] * int(spec["epochs"])
            fitted = True
        except Exception as error:  # keras-team/keras#20585: recorded, then the loop below trains
            result["error"] = _short_error(error)
    if not fitted:
        loss_of = keras.losses.SparseCategoricalCrossentropy(reduction=None)
        batches = iter(strategy.experimental_distribute_dataset(data))

        @tf.function
        def train_step(x, y):
            def replica_step(x, y):
                with tf.GradientTape() as tape:
                    per_example = loss_of(y, model(x, training=True))
                    loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                gradients = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
                return loss

            return strategy.reduce("SUM", strategy.run(replica_step, args=(x, y)), axis=None)

        for _ in range(int(spec["epochs"])):
            start, total = time.perf_counter(), 0.0
            for _ in range(steps_per_epoch):
                total += float(train_step(*next(batches)))
            result["epoch_seconds"].append(time.perf_counter() - start)
            result["losses"].append(total / steps_per_epoch)
    predictions = np.concatenate([np.argmax(np.asarray(model(X_test[i:i + 256], training=False)), axis=1)
                                  for i in range(0, len(X_test), 256)])
    result["test_accuracy"] = float(np.mean(predictions == y_test))
    result["checksum"] = float(sum(np.abs(np.asarray(w, dtype=np.float64)).sum() for w in model.weights))
    result["parameters"] = int(model.count_params())
    return result


def launch(spec: dict, n_workers: int = 2, timeout: float = 600.0, workdir=None) -> list[dict]:  # noqa: C901 (issue 27: split when next touched)
    """Start ``n_workers`` worker processes on this machine, train, and return each one's result.

    Explained in chapter 11, *Scaling out*. Each worker runs ``python -m helpers.multiworker``
    with its own ``TF_CONFIG`` (:func:`tf_config` on free localhost ports), on the CPU, with
    ``spec['threads']`` threads (default: this machine's cores divided among the workers).

    Returns
    -------
    list of dict
        :func:`train_worker`'s result of every worker, by index, each with ``wall_seconds`` (its
        process from start to exit, TensorFlow's import included).

    Raises
    ------
    RuntimeError
        If a worker fails or the run exceeds ``timeout`` seconds (every worker is then stopped);
        the message ends with the worker's last lines of standard error.
    """
    if n_workers < 1:
        raise ParameterError(f"n_workers must be at least 1, got {n_workers}")
    spec = {"model": "report", "mode": "loop", "epochs": 1, "global_batch": 32, "learning_rate": 1e-3,
            "seed": DEFAULT_SEED, "threads": max(1, (os.cpu_count() or 1) // n_workers), **spec}
    if spec["model"] not in MODELS or spec["mode"] not in MODES:
        raise ParameterError(f"model must be one of {MODELS} and mode one of {MODES}, got {spec['model']!r}, "
                             f"{spec['mode']!r}")
    if not Path(spec["data"]).is_file():
        raise DataError(f"training data {spec['data']} does not exist")
    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="multiworker-"))
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "spec.json"
    spec_path.write_text(json.dumps(spec))
    ports = free_ports(n_workers)
    processes, logs, started = [], [], time.perf_counter()
    for index in range(n_workers):
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config(ports, index)), "CUDA_VISIBLE_DEVICES": "-1",
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        log = open(folder / f"worker-{index}.log", "w+b")  # noqa: SIM115 - closed below
        logs.append(log)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "helpers.multiworker", str(spec_path), "--index", str(index)],
            env=env, stdout=log, stderr=subprocess.STDOUT))
    ended = {}
    try:
        while len(ended) < n_workers:
            for index, process in enumerate(processes):
                if index not in ended and process.poll() is not None:
                    ended[index] = time.perf_counter() - started
                    if process.returncode != 0:
                        raise RuntimeError(f"worker {index} exited with status {process.returncode}"
                                           + _tail(logs[index]))
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"the {n_workers}-worker run took more than {timeout:.0f} s" + _tail(logs[0]))
            time.sleep(0.05)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
    results = []
    for index in range(n_workers):
        result = json.loads((folder / f"result-{index}.json").read_text())
        result["wall_seconds"] = ended[index]
        results.append(result)
    return results


def _tail(log, lines: int = 15) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode("utf-8", "replace").splitlines()
    return ":\n" + "\n".join(text[-lines:])


def main(argv: Sequence[str] | None = None) -> int:
    """Worker entry point: ``python -m helpers.multiworker SPEC.json --index I`` (``TF_CONFIG`` set)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.multiworker", description=main.__doc__)
    parser.add_argument("spec", help="the run's spec.json (see train_worker)")
    parser.add_argument("--index", type=int, required=True, help="this worker's index in TF_CONFIG")
    options = parser.parse_args(argv)
    spec_path = Path(options.spec)
    result = train_worker(json.loads(spec_path.read_text()))
    with atomic_path(spec_path.parent / f"result-{options.index}.json") as tmp:
        tmp.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
