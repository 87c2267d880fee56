"""The student kinds behind the one contract (kdbench.student.Student: fit, predict, info), by
the `kind` of a task's student params: classifier (an encoder with a classification head),
structured (an encoder with a span or tag head), causal_lm (a decoder-only LM writing the output
under the task's grammar), seq2seq (an encoder-decoder writing it). A task's schema says which
kinds it takes."""

from kdbench.seq2seq_student import Seq2SeqStudent
from kdbench.seq_student import CausalLMStudent
from kdbench.structured_student import StructuredStudent
from kdbench.student import Classifier, Student
from kdbench.tasks import Task

KINDS = {
    "classifier": lambda task, params, meta, seed: Classifier(params, seed, meta["labels"]),
    "structured": lambda task, params, meta, seed: StructuredStudent(params, seed, task.name,
                                                                     meta["tags"]),
    "causal_lm": lambda task, params, meta, seed: CausalLMStudent(params, seed, task.grammar,
                                                                  meta["tags"]),
    "seq2seq": lambda task, params, meta, seed: Seq2SeqStudent(params, seed, task.grammar,
                                                               meta["tags"]),
}


def make_student(task: Task, params: dict, meta: dict, seed: int) -> Student:
    """A fresh student of the params' kind for the task's rows (meta: prepared/meta.json)."""
    return KINDS[params["kind"]](task, params, meta, seed)
