"""The teacher contract: `teach(task, teacher params, prepared splits, demonstrations) -> Taught`.
A task names its kind: label scoring (kdbench.teacher: every label's verbalizer scored after the
prompt, transformers or vllm backend) or generation (kdbench.seq_teacher: greedy outputs,
grammar-constrained by default)."""

from kdbench import seq_teacher, teacher
from kdbench.tasks import Prepared, Task, Taught

KINDS = {"scoring": teacher.teach, "generation": seq_teacher.teach}


def teach(task: Task, params: dict, prepared: Prepared, demonstrations: list[dict]) -> Taught:
    return KINDS[task.teacher_kind](task, params, prepared, demonstrations)
