import pytest

from kdbench.report import aggregate, flat_metrics, mean_std


def test_aggregate_averages_by_name_with_sample_std():
    seed0 = [{"name": "teacher", "method": "t", "accuracy": 0.6, "collapsed": 0},
             {"name": "llkd", "method": "L", "accuracy": 0.8, "data_usage": "x"}]
    seed1 = [{"name": "llkd", "method": "L", "accuracy": 0.7, "data_usage": "x"},
             {"name": "teacher", "method": "t", "accuracy": 0.7, "collapsed": 1}]
    rows = aggregate([seed0, seed1])
    assert [r["name"] for r in rows] == ["teacher", "llkd"]  # first seed's order
    llkd = rows[1]
    assert llkd["accuracy"] == pytest.approx(0.75)
    assert llkd["accuracy_std"] == pytest.approx(0.0707, abs=1e-4)  # ddof=1
    assert llkd["method"] == "L" and llkd["seeds"] == 2 and llkd["data_usage"] == "x"
    assert rows[0]["collapsed"] == pytest.approx(0.5)
    assert mean_std(llkd, "accuracy") == "0.750 ± 0.071"
    assert mean_std(llkd, "macro_f1") == "-"


def test_one_seed_has_zero_std_and_flat_keys_name_the_std():
    rows = aggregate([[{"name": "sft", "accuracy": 0.9, "wall_s": 12}]])
    assert rows[0]["accuracy_std"] == 0.0 and rows[0]["seeds"] == 1
    flat = flat_metrics(rows)
    assert flat["sft_accuracy"] == 0.9 and flat["sft_accuracy_std"] == 0.0
    assert flat["sft_wall_s"] == 12 and "sft_method" not in flat
