"""The teacher contract. A task names its kind: label scoring (kdbench.teacher: every label's
verbalizer scored after the prompt; transformers, vllm or openai backend) or generation
(kdbench.seq_teacher: greedy outputs, grammar-constrained by default). Each kind says which rows
it labels (`items`), labels some of them (`label`: one shard, a JSON-able record) and puts the
shards together (`assemble` -> Taught); with one shard that is the whole pool in one go."""

from kdbench import seq_teacher, teacher
from kdbench.tasks import Prepared, Task, Taught

KINDS = {"scoring": teacher, "generation": seq_teacher}


def label(task: Task, params: dict, prepared: Prepared, demonstrations: list[dict],
          shard: int, shards: int) -> dict:
    """Shard `shard` of `shards`: every `shards`-th row the teacher labels, from the `shard`-th."""
    kind = KINDS[task.teacher_kind]
    rows = kind.items(prepared, demonstrations)[shard::shards]
    return kind.label(task, params, prepared, demonstrations, rows)


def assemble(task: Task, params: dict, prepared: Prepared, demonstrations: list[dict],
             shards: list[dict]) -> Taught:
    return KINDS[task.teacher_kind].assemble(task, params, prepared, demonstrations, shards)
