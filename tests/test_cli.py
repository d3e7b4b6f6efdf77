"""The command line: demo, train (in-process) with a JSON report, plot, the protocol registry, reports."""

import argparse
import json

import pytest

from pyprivml import cli
from pyprivml.report import Report


def test_demo_checks_decoding_against_the_plaintext(capsys):
    assert cli.main(["demo", "--workers", "5"]) == 0
    out = capsys.readouterr().out
    assert "decoded gradient equals the plaintext X^T s(X, W) over F_p: True" in out
    assert "LCC-encode X for N=5" in out


def test_train_in_process_writes_a_report_and_plot_draws_it(tmp_path, capsys):
    out = tmp_path / "run.json"
    code = cli.main(["train", "codedprivateml", "--dataset", "digits49", "--workers", "9", "--case", "2",
                     "--iters", "8", "--seed", "0", "--transport", "inprocess", "--no-progress",
                     "--straggle", "4:0.05", "--report", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "codedprivateml on digits49: N=9, K=2, T=1, r=1" in text
    for column in ("accuracy", "baseline", "encoding s", "communication s", "computation s", "decoding s",
                   "update s"):
        assert column in text
    report = Report.load(out)
    assert report.protocol == "codedprivateml" and report.dataset == "digits49"
    assert len(report.history) == len(report.baseline_history) == 9
    assert report.parameters["straggle"] == {"4": 0.05}
    assert report.meta["transport"] == "inprocess" and report.bytes["data"] > 0
    assert all(4 not in used for used in report.meta["workers_used_per_iteration"])
    assert json.loads(out.read_text())["parameters"]["recovery_threshold"] == 7
    png = tmp_path / "curves.png"
    assert cli.main(["plot", str(out), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_linear_regression_and_protocol_options(tmp_path, capsys):
    assert cli.main(["train", "codedprivateml", "--dataset", "synthetic", "--m", "120", "--d", "4",
                     "--workers", "4", "--case", "1", "--iters", "3", "--linear", "--fit-interval=-3,3",
                     "--transport", "inprocess", "--no-progress"]) == 0
    assert "r2" in capsys.readouterr().out


def test_bad_arguments_are_reported(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "nosuchprotocol"])
    with pytest.raises(SystemExit):
        cli.main(["train", "codedprivateml", "--straggle", "3-0.5"])
    assert "expected RANK:SECONDS" in capsys.readouterr().err
    assert cli.main(["train", "codedprivateml", "--workers", "6", "--case", "2", "--transport", "inprocess"]) == 2
    assert "error: case 2 with degree r = 1 needs N >= 9 workers" in capsys.readouterr().err
    assert cli.main(["train", "codedprivateml", "--workers", "4", "--case", "1", "--lx", "12", "--iters", "1",
                     "--transport", "inprocess", "--no-progress"]) == 2
    assert "before training: decoded gradient entries could reach" in capsys.readouterr().err


def test_parse_straggle():
    assert cli.parse_straggle("1:0.5,3:inf") == {1: 0.5, 3: float("inf")}
    assert cli.parse_straggle("") == {}
    with pytest.raises(argparse.ArgumentTypeError, match=">= 0"):
        cli.parse_straggle("2:-1")


def test_every_registered_protocol_resolves():
    for name, spec in cli.PROTOCOLS.items():
        assert callable(cli._resolve(spec)), name
    for spec in cli.COMMANDS.values():
        assert callable(cli._resolve(spec))


def test_report_json_round_trip_and_table(tmp_path):
    r = Report.new("codedprivateml", {"N": 4, "K": 1}, dataset="toy",
                   history=[{"iteration": 0, "loss": 0.7, "accuracy": 0.9}],
                   baseline_history=[{"iteration": 0, "loss": 0.6, "accuracy": 0.95}],
                   seconds={"encoding": 0.5, "communication": 0.25, "total": 1.0}, bytes={"data": 10})
    path = tmp_path / "r.json"
    r.save(path)
    back = Report.load(path)
    assert back == r and "date" in back.meta and "machine" in back.meta
    row = back.summary_row()
    assert row["accuracy"] == "90.00%" and row["baseline"] == "95.00%" and row["decoding s"] == "-"
    with pytest.raises(ValueError, match="not a pyprivml report"):
        Report.from_json('{"history": []}')


def test_plot_draws_time_against_workers(tmp_path, capsys):
    rows = [{"protocol": proto, "N": n, "dataset": "cifar10", "iterations": 50, "total_s": t}
            for proto, base in (("bh08", 10.0), ("codedprivateml-1", 8.0)) for n, t in ((10, base), (30, 2 * base))]
    path = tmp_path / "figure3.json"
    path.write_text(json.dumps({"network": "800 Mbit/s, 0.2 ms", "rows": rows}))
    png = tmp_path / "figure3.png"
    assert cli.main(["plot", str(path), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in capsys.readouterr().out


def test_comparison_rows_sum_the_table_ii_phases():
    from pyprivml.protocols.compare import table_row

    params = {"N": 9, "K": 2, "T": 1}
    seconds = {"setup": 5.0, "encoding": 0.5, "communication": 1.0, "computation": 2.0, "decoding": 0.25,
               "update": 0.25, "total": 20.0}   # total also holds warm-up and metric evaluation
    row = table_row("bh08", params, seconds, 0.9)
    assert row["computation_s"] == 2.5 and row["communication_s"] == 1.0 and row["total_s"] == 4.0
    mpc = table_row("bgw", {"N": 9, "G": 3, "T": 1}, seconds, 0.9)   # MPC rows: K is the groups G
    assert mpc["K"] == 3 and mpc["total_s"] == 4.0
