import numpy as np
import pytest

from kdbench.plots import expected_calibration_error, plot_reliability, reliability_bins


def test_reliability_bins_and_ece_by_hand():
    confidence = np.array([0.15, 0.18, 0.55, 0.58, 0.95])
    correct = np.array([0, 1, 1, 1, 1])
    rows = reliability_bins(confidence, correct, bins=10)
    assert [(r["bin_low"], r["count"]) for r in rows] == [(0.1, 2), (0.5, 2), (0.9, 1)]
    assert rows[0]["confidence"] == pytest.approx(0.165) and rows[0]["accuracy"] == 0.5
    # ECE = (2 * |0.5 - 0.165| + 2 * |1 - 0.565| + 1 * |1 - 0.95|) / 5
    assert expected_calibration_error(rows) == pytest.approx((0.67 + 0.87 + 0.05) / 5, abs=1e-4)


def test_confidence_one_falls_in_the_last_bin_and_png_is_written(tmp_path):
    rows = reliability_bins(np.array([1.0, 0.0]), np.array([1, 0]), bins=4)
    assert [(r["bin_low"], r["count"]) for r in rows] == [(0.0, 1), (0.75, 1)]
    path = tmp_path / "r.png"
    plot_reliability(rows, str(path), "t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.partial"))
