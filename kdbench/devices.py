"""Where a model runs: params name a device (auto | cpu | cuda | cuda:N); auto is the first CUDA
device when there is one, else the CPU. A device that is not there is a one-line error before
anything loads."""

import re

from kdbench.errors import KDBenchError

PATTERN = r"auto|cpu|cuda(:\d+)?"
PRECISIONS = ("fp32", "bf16")


def resolve(name: str):
    """The torch.device that `name` stands for on this machine."""
    import torch

    if not re.fullmatch(PATTERN, name):
        raise KDBenchError(f"device {name!r}; expected auto, cpu, cuda or cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(name.split(":")[1]) if ":" in name else 0
    if index >= count:
        raise KDBenchError(f"device {name!r} is not on this machine: it has {count} CUDA "
                           f"device(s) (torch {torch.__version__}); use auto or cpu")
    return torch.device(name)


def of(model):
    """The device a model's weights are on."""
    return next(model.parameters()).device


def autocast(device, precision: str):
    """The context students train and predict in: bf16 autocast on CUDA, plain fp32 elsewhere.
    bf16 on a CPU is refused: it is slower there, not a faster approximation."""
    import contextlib

    import torch

    if precision not in PRECISIONS:
        raise KDBenchError(f"precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext()
    if device.type != "cuda":
        raise KDBenchError(f"precision {precision!r} needs a CUDA device, not {device}; use fp32")
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
