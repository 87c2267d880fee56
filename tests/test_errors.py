import re

import pytest

from kdbench.errors import KDBenchError, report_errors


def test_a_finished_stage_logs_wall_time_and_peak_memory(capsys):
    report_errors(lambda: print("working"))()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "working"
    assert re.fullmatch(r".+: done in \d+\.\d s, peak memory \d+\.\d\d GiB", out[1])


def test_a_user_error_is_one_line_and_exit_status_2(capsys):
    def fail():
        raise KDBenchError("params: x = 1; expected y")

    with pytest.raises(SystemExit) as stop:
        report_errors(fail)()
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == "error: params: x = 1; expected y\n" and "done in" not in captured.out
