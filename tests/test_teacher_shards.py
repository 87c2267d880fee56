"""The teacher in shards (params.yaml teacher_shards): N shards put together give what one gives."""

import numpy as np
import pytest

from kdbench.errors import KDBenchError
from kdbench.params import read_params
from kdbench.project import ROOT
from kdbench.seqdata import generate_treebank
from kdbench.tasks import Prepared, get_task, summed
from kdbench.teachers import assemble, label

PARAMS = read_params(ROOT / "params.yaml")


def classification(tiny_teacher_dir):
    task = get_task("classification")
    labels = ["business", "sport", "tech"]
    texts = ["profits rose", "the match", "a new chip", "shares fell", "a late goal",
             "software update", "the bank", "the final", "a laptop", "rates", "a coach", "apps"]
    rows = [{"id": f"r{i}", "text": t, "label": labels[i % 3], "gold": labels[i % 3]}
            for i, t in enumerate(texts)]
    prepared = Prepared(labeled=rows[:5], unlabeled=rows[5:10], test=rows[10:],
                        meta={"labels": labels})
    teacher = {**PARAMS["classification"]["teacher"], "model": str(tiny_teacher_dir),
               "shots": 1, "batch_size": 2, "device": "cpu"}
    return task, teacher, prepared, rows[:3]


def constituency(tiny_teacher_dir):
    task = get_task("constituency")
    rows = [{**r, "gold": r["target"]} for r in generate_treebank(11, seed=0, min_words=2,
                                                                   max_words=5)]
    prepared = Prepared(labeled=rows[:3], unlabeled=rows[3:8], test=rows[8:],
                        meta={"tags": []})
    teacher = {**PARAMS["constituency"]["teacher"], "model": str(tiny_teacher_dir),
               "shots": 2, "batch_size": 2, "device": "cpu"}
    return task, teacher, prepared, rows[:2]


@pytest.mark.parametrize("make", [classification, constituency])
def test_shards_put_together_give_what_one_shard_gives(make, tiny_teacher_dir):
    task, teacher, prepared, demos = make(tiny_teacher_dir)
    one = assemble(task, teacher, prepared, demos, [label(task, teacher, prepared, demos, 0, 1)])
    parts = [label(task, teacher, prepared, demos, k, 3) for k in range(3)]
    ids = [i for part in parts for i in (part["ids"] if "ids" in part
                                         else [r["id"] for r in part["rows"]])]
    assert len(ids) == len(set(ids))  # disjoint, and together every row once
    three = assemble(task, teacher, prepared, demos, parts[::-1])  # in any order
    assert ([(r["id"], r[task.target]) for r in three.trainset]
            == [(r["id"], r[task.target]) for r in one.trainset])
    for split in ("pool", "test"):
        a, b = one.predictions[split], three.predictions[split]
        assert [r["id"] for r in a] == [r["id"] for r in b]
        if task.name == "classification":
            assert [r["label"] for r in a] == [r["label"] for r in b]
            np.testing.assert_allclose([r["probs"] for r in a], [r["probs"] for r in b],
                                       atol=1e-5)
        else:
            assert [r["output"] for r in a] == [r["output"] for r in b]
    counted = "n_scored" if task.name == "classification" else "generated"
    assert three.info[counted] == one.info[counted] == len(ids)
    with pytest.raises(KDBenchError, match="re-run every prompt_teacher shard"):
        assemble(task, teacher, prepared, demos, parts[:2])


def test_shard_infos_add_counts_and_times_and_keep_the_rest():
    infos = [{"n_scored": 3, "scoring_s": 1.5, "threads": 2, "peak_memory_gib": 1.0,
              "model": "m", "prior": [0.5, 0.5], "collapsed": False},
             {"n_scored": 4, "scoring_s": 2.25, "threads": 2, "peak_memory_gib": 1.5,
              "model": "m", "prior": [0.5, 0.5], "collapsed": True}]
    assert summed(infos) == {"n_scored": 7, "scoring_s": 3.75, "threads": 2,
                             "peak_memory_gib": 1.5, "model": "m", "prior": [0.5, 0.5],
                             "collapsed": False}
