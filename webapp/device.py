"""Which device TensorFlow computes on, said once in words for logs, /healthz and metadata.

TensorFlow places work on the first GPU by itself when it sees one; this module only asks and
describes, so the server can log "GPU:0 (NVIDIA H100 ...)" or "CPU (2 cores)" at start-up.
"""

from __future__ import annotations

import contextlib
import os


def describe() -> str:
    """A short description of the device Keras/TensorFlow will compute on.

    Call it before the first model loads: it also turns on GPU memory growth.
    """
    try:
        import tensorflow as tf
    except ImportError:  # another Keras backend (a GPU machine with JAX/PyTorch only)
        return _describe_other_backend()
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # Take GPU memory as needed, not all of it at once: a training run in its own process
        # shares the same GPU with the server.
        with contextlib.suppress(RuntimeError, ValueError):  # already initialised: keep it
            tf.config.experimental.set_memory_growth(gpu, True)
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        label = details.get("device_name") or gpus[0].name
        more = f" +{len(gpus) - 1} more" if len(gpus) > 1 else ""
        return f"GPU:0 ({label}){more}"
    return f"CPU ({os.cpu_count()} cores)"


def _describe_other_backend() -> str:
    """The same words for the JAX and PyTorch backends (used when training on such a machine)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform == "gpu":
                return f"GPU:0 ({device.device_kind})"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU:0 ({torch.cuda.get_device_name(0)})"
    except Exception:  # a broken driver still leaves the CPU
        return f"{backend} backend"
    return f"CPU ({os.cpu_count()} cores)"
