"""One input-checking layer (r2p_models.checks): the same bad input gets the same rule's
message from every layer that checks it, naming the file (or frame), the column and the
row, and raising that layer's own InputError subclass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from r2p_models.calibration import CalibrationInputError, brier_score, score_table
from r2p_models.checks import (
    SHOWN,
    Rows,
    csv_records,
    numeric,
    required,
    show,
    unique,
)
from r2p_models.data.adapters import DEFAULT_FILES, EWP_REGIONS, AdapterError, ewp_table
from r2p_models.data.fusion import FusionError, fuse_reports
from r2p_models.data.panel import PanelError, load_panel
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger, LedgerValidationError

# The bad inputs, and the words of the rule every layer that has it uses.
BAD: dict[str, object] = {
    "text": "high",         # a cell that is not a number
    "blank": np.nan,        # no value where one is required
    "fraction": 2001.5,     # a fraction where a whole number (a year) is required
    "year": 1700,           # a year outside 1800-2200
    "label": "genocidee",   # a label not allowed
    "probability": 1.2,     # a probability outside [0, 1]
    "outcome": 2,           # an outcome other than 0/1
}
RULE = {
    "text": "must be numeric",
    "blank": "has no value (blank or NaN)",
    "fraction": "must be a whole",
    "year": "must be a year in 1800-2200; found ",
    "label": "must be",
    "probability": "must be a probability in [0, 1]; found ",
    "outcome": "; found 2 at",
}
AT = 3  # the bad cell is in the 4th row: data row 4 of a file, label 3 of a frame


class Layer:
    """A layer's public entry point, given one bad cell in one column."""

    def __init__(self, name: str, error: type[InputError], columns: dict[str, str],
                 run: Callable[[Path, str, object], tuple[str, str]], good: object) -> None:
        self.name, self.error, self.columns, self.run = name, error, columns, run
        self.good = good  # a valid value for the bad cell of the first case


def _put(df: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    df = df.astype({column: object})
    df.loc[AT, column] = value
    return df


# --------------------------------------------------------------------------- the layers


def _panel(tmp: Path, column: str, value: object) -> tuple[str, str]:
    table = pd.DataFrame({"ccode": [2] * 3 + [20] * 3, "year": [2000, 2001, 2002] * 2,
                          "region": "Americas", "coup": 0.0, "mk_onset": 0})
    _put(table, column, value).to_csv(tmp / "panel.csv", index=False)
    (tmp / "run.toml").write_text('[data]\ntable = "panel.csv"\ncountry = "ccode"\n'
                                  'year = "year"\nregion = "region"\npredictors = ["coup"]\n'
                                  '[outcomes]\ncrimes_against_humanity = "mk_onset"\n')
    load_panel(tmp / "run.toml")
    return str(tmp / "panel.csv"), f"row {AT + 1}"


def _adapter(tmp: Path, column: str, value: object) -> tuple[str, str]:
    path = tmp / DEFAULT_FILES["ewp_panel"]
    path.parent.mkdir(parents=True)
    table = pd.DataFrame({"ccode": [2] * 3 + [20] * 3, "year": [2000, 2001, 2002] * 2,
                          "ewp_name": "x", "mk_onset": 0, **dict.fromkeys(EWP_REGIONS, 0)})
    table["reg.na"] = 1
    _put(table, column, value).to_csv(path, index=False)
    ewp_table(tmp, predictors=[])
    return str(path), f"row {AT + 1}"


def _forecasts() -> pd.DataFrame:
    return pd.DataFrame({"origin_year": 2020, "country": ["SDN", "MMR", "SYR"] * 2,
                         "crime": ["genocide"] * 3 + ["war_crimes"] * 3,
                         "target_start": 2021, "target_end": 2022, "p_mean": 0.1})


def _ledger_frame(tmp: Path, column: str, value: object) -> tuple[str, str]:
    with Ledger(tmp / "ledger.sqlite") as led:
        led.issue(_put(_forecasts(), column, value), source="m", kind="forecast", run_id="r",
                  data_hash="d", config_hash="c", issued_at=dt.datetime(2026, 1, 1,
                                                                         tzinfo=dt.UTC))
    return "rows", f"row {AT}"


def _analyst_csv(tmp: Path, column: str, value: object) -> tuple[str, str]:
    path = tmp / "analyst.csv"
    _put(_forecasts().rename(columns={"p_mean": "p"}), column, value).to_csv(path, index=False)
    with Ledger(tmp / "ledger.sqlite") as led:
        led.import_analyst_csv(path, analyst_id="jdoe")
    return str(path), f"row {AT + 1} (line {AT + 2})"


def _fusion(tmp: Path, column: str, value: object) -> tuple[str, str]:
    reports = pd.DataFrame({"country": ["SDN", "SDN", "MMR", "MMR", "SYR", "SYR"],
                            "year": 2001, "indicator": "x", "source": ["a", "b"] * 3,
                            "value": [1.0, 1.2, 2.0, 2.1, 0.5, 0.4]})
    fuse_reports(_put(reports, column, value), error_variance={("x", "a"): 0.1, ("x", "b"): 0.1})
    return "reports", f"row {AT + 1}"


def _calibration_arrays(tmp: Path, column: str, value: object) -> tuple[str, str]:
    p, y = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 0, 1, 0, 1]
    (p if column == "p" else y)[AT] = value  # type: ignore[index]
    brier_score(np.array(p, dtype=object), np.array(y, dtype=object))
    return "", f"position {AT}"


def _calibration_table(tmp: Path, column: str, value: object) -> tuple[str, str]:
    cases = pd.DataFrame({"p": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "outcome": [0, 1] * 3,
                          "country": list("abcdef"), "origin_year": 2000})
    score_table(_put(cases, column, value), metrics=["brier"], n_boot=10)
    return "cases", f"row {AT}"


LAYERS = [
    Layer("panel", PanelError, {"text": "coup", "blank": "year", "fraction": "year",
                                "year": "year", "outcome": "mk_onset"}, _panel, 1.5),
    Layer("adapter", AdapterError, {"text": "year", "blank": "ccode", "fraction": "year",
                                    "outcome": "mk_onset"}, _adapter, 2000),
    Layer("ledger frame", LedgerValidationError,
          {"text": "p_mean", "blank": "p_mean", "fraction": "target_end",
           "year": "origin_year", "label": "crime", "probability": "p_mean"}, _ledger_frame,
          0.4),
    Layer("analyst CSV", LedgerValidationError,
          {"text": "p", "blank": "p", "fraction": "target_end", "year": "origin_year",
           "label": "crime", "probability": "p"}, _analyst_csv, 0.4),
    Layer("fusion", FusionError, {"text": "value", "blank": "value", "fraction": "year",
                                  "label": "country"}, _fusion, 2.5),
    Layer("calibration arrays", CalibrationInputError,
          {"text": "p", "blank": "p", "probability": "p", "outcome": "y"}, _calibration_arrays,
          0.4),
    Layer("calibration table", CalibrationInputError,
          {"text": "p", "blank": "p", "probability": "p", "outcome": "outcome"},
          _calibration_table, 0.4),
]
CASES = [pytest.param(layer, case, id=f"{layer.name}-{case}")
         for layer in LAYERS for case in BAD if case in layer.columns]


@pytest.mark.parametrize(("layer", "case"), CASES)
def test_every_layer_names_file_column_and_row_in_the_rules_words(tmp_path, layer: Layer,
                                                                  case: str) -> None:
    column = layer.columns[case]
    value = "" if (layer.name, case) == ("fusion", "label") else BAD[case]
    with pytest.raises(layer.error) as info:
        layer.run(tmp_path, column, value)
    msg = str(info.value)
    source, row = _where(layer, tmp_path)
    assert "\n" not in msg
    assert msg.startswith(f"{source}: " if source else f"{column} "), msg
    named = f"{column} " if layer.name == "calibration arrays" else f"column {column!r} "
    assert named in msg, msg
    assert (f" at {row}" in msg) or (f" at {row.replace('row', 'rows')}" in msg), msg
    assert RULE[case] in msg, msg
    if case not in ("blank", "label"):  # the value as the layer read it (a CSV cell as text)
        assert f"found {value!r} at" in msg or f"found {str(value)!r} at" in msg, msg
    assert isinstance(info.value, InputError)


def _where(layer: Layer, tmp: Path) -> tuple[str, str]:
    """The source and row a layer's messages name (what its runner returns on success)."""
    return {
        "panel": (str(tmp / "panel.csv"), f"row {AT + 1}"),
        "adapter": (str(tmp / DEFAULT_FILES["ewp_panel"]), f"row {AT + 1}"),
        "ledger frame": ("rows", f"row {AT}"),
        "analyst CSV": (str(tmp / "analyst.csv"), f"row {AT + 1} (line {AT + 2})"),
        "fusion": ("reports", f"row {AT + 1}"),
        "calibration arrays": ("", f"position {AT}"),
        "calibration table": ("cases", f"row {AT}"),
    }[layer.name]


@pytest.mark.parametrize("layer", LAYERS, ids=[layer.name for layer in LAYERS])
def test_the_good_inputs_of_the_table_pass(tmp_path, layer: Layer) -> None:
    """The runners' inputs are valid but for the bad cell (so each case tests one rule)."""
    column = next(iter(layer.columns.values()))
    assert layer.run(tmp_path, column, layer.good) == _where(layer, tmp_path)


# --------------------------------------------------------------------------- the module


def test_rows_are_named_up_to_shown_then_counted() -> None:
    bad = np.zeros(20, dtype=bool)
    bad[[2, 6, 11, 12, 13, 14, 15, 16, 19]] = True
    assert Rows("f.csv").named(bad) == "rows 3, 7, 12, 13, 14 and 4 more"
    assert Rows("f.csv").named(bad[:3]) == "row 3"
    assert Rows.positions("").named(bad[:7]) == "positions 2, 6"
    assert Rows.index("rows", list("abcdefg")).named(bad[:7]) == "rows 'c', 'g'"
    assert Rows.lines("a.csv", [2, 3, 5]).named([False, False, True]) == "row 3 (line 5)"
    assert SHOWN == 5


def test_one_line_with_source_column_values_and_hint() -> None:
    with pytest.raises(PanelError) as info:
        numeric(pd.Series([1, "x", 3, "n/a"]), "coup", Rows("t.csv", PanelError))
    assert str(info.value) == "t.csv: column 'coup' must be numeric; found 'x' at row 2, " \
                              "'n/a' at row 4"
    with pytest.raises(CalibrationInputError, match=r"^p has no value \(blank or NaN\) at "
                                                    r"position 1; drop them$"):
        required(np.array([0.1, np.nan]), "p",
                 Rows.positions("", CalibrationInputError, subject="{}"), hint="; drop them")
    with pytest.raises(InputError, match=r"^t: dup; found \('a', 1\) at row 1, \('a', 1\) at "
                                         r"row 3$"):
        unique(pd.DataFrame({"k": ["a", "b", "a"], "y": [1, 1, 1]}), Rows("t"), "dup")


def test_numbers_text_blanks_and_booleans() -> None:
    rows = Rows("t")
    got = numeric(pd.Series([" 2 ", "", None, 1.5, "1e3"], dtype=object), "c", rows)
    np.testing.assert_array_equal(got, [2.0, np.nan, np.nan, 1.5, 1000.0])
    with pytest.raises(InputError, match=r"not text; found '2' at row 1; convert it first"):
        numeric(["2"], "c", rows, text=False)
    with pytest.raises(InputError, match="must be numeric; found True at row 1"):
        numeric(pd.Series([True, False]), "c", rows)
    np.testing.assert_array_equal(numeric(pd.Series([True, None], dtype="boolean"), "c", rows,
                                          booleans=True), [1.0, np.nan])
    with pytest.raises(InputError, match="must be a finite number; found inf at row 2"):
        numeric([1.0, np.inf], "c", rows)
    with pytest.raises(InputError, match="must be numeric; found 'nan' at row 1"):
        numeric(["nan"], "c", rows)  # text that pandas would read as NaN is not a blank


def test_values_are_shown_as_written() -> None:
    assert [show(v) for v in (2.0, np.float64(1700), 2000.5, 1e30, np.int64(3), "x", None,
                              float("nan"))] == ["2", "1700", "2000.5", "1e+30", "3", "'x'",
                                                 "None", "nan"]


def test_csv_records_skip_blank_lines_and_name_a_ragged_line() -> None:
    header, records, lines = csv_records('a,b\n1,2\n  \n\n"x\ny",3\n,\n', "t.csv")
    assert (header, records, lines) == (["a", "b"], [["1", "2"], ["x\ny", "3"], ["", ""]],
                                        [2, 5, 7])
    with pytest.raises(PanelError, match=r"^t\.csv: line 3 has 1 cell, the header has 2$"):
        csv_records("a,b\n1,2\n3\n", "t.csv", PanelError)


def test_the_module_is_a_leaf() -> None:
    import ast
    import inspect

    import r2p_models.checks as checks

    tree = ast.parse(inspect.getsource(checks))
    inner = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
             and n.module and n.module.startswith("r2p_models")}
    assert inner == {"r2p_models.errors"}
