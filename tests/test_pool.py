"""Tests of pooled forecasts (r2p_models.pool, ``r2p pool``) and the ledger's pool_weights."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import snapshot
from scipy.special import betainc, expit, logit

from r2p_models.crimes import CRIMES
from r2p_models.ledger import SCHEMA_VERSION, Ledger, verify_ledger
from r2p_models.pool import PoolInputError, pool_sources

T0 = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
CASE = ["origin_year", "country", "crime", "target_start", "target_end"]
FIRST, LAST = 2000, 2007


def cases(n_countries: int = 12, seed: int = 0) -> pd.DataFrame:
    """One-year windows for every country, crime and origin; ``truth`` the onset chance."""
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product(
        [range(FIRST, LAST + 1), [f"C{i:02d}" for i in range(n_countries)], CRIMES],
        names=["origin_year", "country", "crime"])
    df = idx.to_frame(index=False)
    df["target_start"] = df["target_end"] = df["origin_year"] + 1
    df["truth"] = rng.uniform(0.05, 0.6, len(df))
    df["y"] = (rng.uniform(size=len(df)) < df["truth"]).astype(int)
    df["noise"] = rng.uniform(0.05, 0.6, len(df))
    return df


def onsets(df: pd.DataFrame) -> xr.DataArray:
    """The panel's onset(country, year, crime) of the cases' outcomes (0 elsewhere)."""
    countries = sorted(df["country"].unique())
    years = np.arange(FIRST, LAST + 2)
    da = xr.DataArray(np.zeros((len(countries), len(years), len(CRIMES))),
                      dims=("country", "year", "crime"),
                      coords={"country": countries, "year": years, "crime": list(CRIMES)})
    for r in df[df["y"] == 1].itertuples():
        da.loc[r.country, r.target_end, r.crime] = 1.0
    return da


def make_ledger(path: Path, df: pd.DataFrame, *, resolve: bool = True,
                sources: dict[str, str] | None = None, kind: str = "backtest") -> Path:
    """Sources ``good`` (the truth's probability) and ``noise`` (unrelated), resolved."""
    sources = sources or {"good": "truth", "noise": "noise"}
    with Ledger(path) as led:
        for name, col in sources.items():
            led.issue(df[CASE].assign(p_mean=df[col]), source=name, kind=kind, run_id="r1",
                      data_hash="sha256:d", config_hash="sha256:c", issued_at=T0)
        if resolve:
            led.resolve(onsets(df), outcome_source="panel", observed_through=LAST + 1,
                        resolved_at=T0)
    return path






# ----------------------------------------------------------------- hand-computed pools

TINY = pd.DataFrame({
    "origin_year": [2020, 2020], "country": ["A", "B"], "crime": [CRIMES[0]] * 2,
    "target_start": [2021, 2021], "target_end": [2022, 2022],
})
PA = {"p_mean": [0.1, 0.4], "p_q05": [0.05, 0.2], "p_q50": [0.1, 0.4], "p_q95": [0.2, 0.7]}
PB = {"p_mean": [0.3, 0.2], "p_q05": [0.1, np.nan], "p_q50": [0.3, 0.2], "p_q95": [0.5, 0.4]}


def tiny_ledger(path: Path) -> Path:
    with Ledger(path) as led:
        for src, p in (("A", PA), ("B", PB)):
            led.issue(TINY.assign(**p), source=src, kind="forecast", run_id="r",
                      data_hash="sha256:d", config_hash="sha256:c", issued_at=T0)
    return path


@pytest.mark.parametrize("method", ["linear", "log"])
def test_fixed_weights_reproduce_hand_computed_pools(path: Path, method: str) -> None:
    tiny_ledger(path)
    res = pool_sources(path, ["A", "B"], method=method, weights={"A": 1, "B": 3}, name="P",
                       issued_at=T0)
    assert (res.source, res.kind, res.inserted, res.skipped) == ("P", "forecast", 2, 0)
    with Ledger(path, readonly=True) as led:
        got = led.rows(source="P").sort_values("country")
    a, b = pd.DataFrame(PA), pd.DataFrame(PB)
    if method == "linear":
        want = 0.25 * a + 0.75 * b
    else:
        want = expit(0.25 * logit(a) + 0.75 * logit(b))
    np.testing.assert_allclose(got["p_mean"], want["p_mean"], rtol=1e-12)
    np.testing.assert_allclose(got["p_q95"], want["p_q95"], rtol=1e-12)
    # a quantile some source lacks is left empty; the others are pooled
    assert np.isnan(got["p_q05"].iloc[1]) and got["p_q05"].iloc[0] == pytest.approx(
        want["p_q05"].iloc[0])
    assert (got["kind"] == "forecast").all() and (got["outcome_status"] == "pending").all()
    w = res.weights.set_index("input_source")
    assert w.loc["A", "value"] == pytest.approx(0.25) and w.loc["B", "value"] == 0.75
    assert (w["n_cases"] == 0).all()


def test_a_case_some_source_lacks_is_skipped(path: Path) -> None:
    tiny_ledger(path)
    with Ledger(path) as led:
        extra = TINY.iloc[:1].assign(country="C", p_mean=0.5)
        led.issue(extra, source="A", kind="forecast", run_id="r2", data_hash="sha256:d",
                  config_hash="sha256:c", issued_at=T0)
    res = pool_sources(path, ["A", "B"], name="P", n_boot=0, issued_at=T0)
    assert (res.inserted, res.skipped) == (2, 1)
    with Ledger(path, readonly=True) as led:
        assert sorted(led.rows(source="P")["country"]) == ["A", "B"]


# ------------------------------------------------------------------- learned weights

@pytest.mark.parametrize("method", ["linear", "log", "beta"])
def test_the_good_source_gets_most_weight(path: Path, method: str) -> None:
    make_ledger(path, cases())
    res = pool_sources(path, ["good", "noise"], method=method, n_boot=20, issued_at=T0)
    w = res.weights[res.weights["parameter"] == "weight"]
    first = w[w["origin_year"] == FIRST].set_index("input_source")
    last = w[w["origin_year"] == LAST].set_index("input_source")
    # no track record at the first origin: the prior (equal shares), no interval
    assert (first["value"] == 0.5).all() and (first["n_cases"] == 0).all()
    assert (first["lo"] == 0.5).all() and (first["hi"] == 0.5).all()
    assert last.loc["good", "value"] > 0.75
    assert last.loc["good", "lo"] <= last.loc["good", "value"] <= last.loc["good", "hi"]
    assert last.loc["good", "n_cases"] > 100
    assert w.groupby("origin_year")["value"].sum().to_numpy() == pytest.approx(1.0)
    with Ledger(path, readonly=True) as led:
        rows = led.rows(source=res.source)
        inputs = {s: led.rows(source=s).set_index(CASE)["p_mean"] for s in ("good", "noise")}
    at = rows[rows["origin_year"] == LAST].set_index(CASE)["p_mean"]
    pa, pb = inputs["good"].loc[at.index], inputs["noise"].loc[at.index]
    wg, wn = last.loc["good", "value"], last.loc["noise", "value"]
    if method == "linear":
        want = wg * pa + wn * pb
    elif method == "log":
        want = expit(wg * logit(pa) + wn * logit(pb))
    else:
        ab = res.weights[(res.weights["origin_year"] == LAST)].set_index("parameter")["value"]
        want = betainc(ab["beta_a"], ab["beta_b"], wg * pa + wn * pb)
    np.testing.assert_allclose(at, want, rtol=1e-9)


def test_weights_shrink_from_the_prior_as_cases_accumulate(path: Path) -> None:
    make_ledger(path, cases())
    prior = {"good": 0.2, "noise": 0.8}
    res = pool_sources(path, ["good", "noise"], prior=prior, n_boot=0, issued_at=T0)
    strong = pool_sources(path, ["good", "noise"], prior=prior, n_boot=0, strength=1e6,
                          name="strong", issued_at=T0)
    good = res.weights[res.weights["input_source"] == "good"].set_index("origin_year")
    assert good.loc[FIRST, "value"] == pytest.approx(0.2)  # the stated prior, no record
    assert good.loc[FIRST, "prior"] == pytest.approx(0.2)
    assert good["value"].iloc[-1] > good["value"].iloc[1] > 0.2  # moves with the record
    sg = strong.weights[strong.weights["input_source"] == "good"]
    np.testing.assert_allclose(sg["value"], 0.2, atol=1e-3)  # a huge prior holds


# ---------------------------------------------------------------------- no look-ahead

def test_no_look_ahead(tmp_path: Path) -> None:
    df = cases()
    origin = 2003
    flipped = df.copy()
    later = flipped.index[(flipped["target_end"] > origin + 2)]
    flipped.loc[later, "y"] = 1 - flipped.loc[later, "y"]  # every later outcome changes
    out = {}
    for label, d in (("base", df), ("flipped", flipped)):
        p = make_ledger(tmp_path / f"{label}.sqlite", d)
        res = pool_sources(p, ["good", "noise"], method="beta", n_boot=10, issued_at=T0)
        with Ledger(p, readonly=True) as led:
            out[label] = (res.weights, led.rows(source=res.source))
    (wb, rb), (wf, rf) = out["base"], out["flipped"]
    for year in range(FIRST, origin + 3):  # training windows end by origin + 2: unchanged
        pd.testing.assert_frame_equal(wb[wb.origin_year == year], wf[wf.origin_year == year])
        cols = [*CASE, "p_mean", "p_q05", "p_q50", "p_q95"]
        pd.testing.assert_frame_equal(rb.loc[rb.origin_year == year, cols],
                                      rf.loc[rf.origin_year == year, cols])
    assert not wb[wb.origin_year == LAST]["value"].equals(
        wf[wf.origin_year == LAST]["value"])  # sanity: the flip matters where it is known


# ----------------------------------------------------------- ledger round trip, reruns

def test_weights_round_trip_through_the_ledger_and_verify_passes(path: Path) -> None:
    make_ledger(path, cases())
    res = pool_sources(path, ["good", "noise"], method="beta", n_boot=10, name="P",
                       issued_at=T0)
    with Ledger(path, readonly=True) as led:
        stored = led.pool_weights("P")
    assert len(stored) == len(res.weights) == (LAST - FIRST + 1) * 4
    assert set(stored["method"]) == {"beta"} and set(stored["kind"]) == {"backtest"}
    cols = ["origin_year", "parameter", "input_source", "value", "lo", "hi", "prior",
            "n_cases"]
    pd.testing.assert_frame_equal(stored[cols].reset_index(drop=True),
                                  res.weights[cols].reset_index(drop=True), check_dtype=False)
    check = verify_ledger(path)
    assert check.schema_version == SCHEMA_VERSION == 3
    # a rerun reuses the stored parameters: nothing new, nothing changed
    before = snapshot(path)
    again = pool_sources(path, ["good", "noise"], method="beta", n_boot=10, name="P",
                         issued_at=T0)
    assert (again.inserted, again.unchanged) == (0, res.inserted)
    after = snapshot(path)
    assert after["pool_weights"] == before["pool_weights"]
    assert after["forecasts"] == before["forecasts"]
    with pytest.raises(PoolInputError, match="choose a new name"):
        pool_sources(path, ["good", "noise"], method="linear", name="P")
    with pytest.raises(PoolInputError, match="is one of the pooled sources"):
        pool_sources(path, ["good", "noise"], name="good")
    verify_ledger(path)


def test_pool_weights_are_append_only(path: Path) -> None:
    make_ledger(path, cases(n_countries=4))
    pool_sources(path, ["good", "noise"], n_boot=0, name="P", issued_at=T0)
    before = snapshot(path)
    con = sqlite3.connect(path)
    for sql in ("UPDATE pool_weights SET value = 0.9 WHERE id = 1",
                "DELETE FROM pool_weights WHERE id = 1",
                "REPLACE INTO pool_weights SELECT * FROM pool_weights WHERE id = 1",
                "INSERT OR REPLACE INTO pool_weights (pooled_source, kind, method, origin_year,"
                " parameter, input_source, value, lo, hi, prior, n_cases, config, run_id, "
                "created_at) SELECT pooled_source, kind, method, origin_year, parameter, "
                "input_source, 0.9, 0.9, 0.9, prior, n_cases, config, run_id, created_at "
                "FROM pool_weights WHERE id = 1"):
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(sql)
    con.rollback()
    con.close()
    assert snapshot(path) == before
    verify_ledger(path)


def test_a_schema_2_ledger_is_upgraded_and_verifies(path: Path) -> None:
    make_ledger(path, cases(n_countries=3))
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("DROP TABLE pool_weights")  # its triggers go with it
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    rows_before = snapshot(path)["forecasts"]
    with Ledger(path, readonly=True) as led:  # any open where it is writable upgrades it
        assert led.schema_version == 3 and led.pool_weights().empty
    meta = dict(snapshot(path)["meta"])
    assert meta["schema_version"] == "3" and "upgraded_to_3_at" in meta
    assert "upgraded_at" not in meta  # not a schema-1 upgrade: the chain was not redone
    assert snapshot(path)["forecasts"] == rows_before
    assert verify_ledger(path).n_forecasts == len(rows_before)
    pool_sources(path, ["good", "noise"], n_boot=0, issued_at=T0)
    verify_ledger(path)


# ------------------------------------------------------------------------------- CLI

def test_cli_pool_and_its_errors(path: Path, tmp_path: Path, capsys) -> None:
    from r2p_models.cli import EXIT_BAD_INPUT, EXIT_OK, main

    make_ledger(path, cases(n_countries=4))
    before = snapshot(path)
    listing = sorted(p.name for p in tmp_path.iterdir())
    for args in (["--source", "good", "--source", "nosuch"],
                 ["--source", "good"],
                 ["--source", "good", "--source", "noise", "--prior", "good"],
                 ["--source", "good", "--source", "noise", "--prior", "bad=1",
                  "--prior", "noise=1"],
                 ["--source", "good", "--source", "noise", "--kind", "forecast"]):
        assert main(["pool", "--ledger", str(path), *args]) == EXIT_BAD_INPUT, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("r2p pool: error:"), err
    assert snapshot(path) == before  # nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no lock file left
    missing = tmp_path / "none.sqlite"
    assert main(["pool", "--ledger", str(missing), "--source", "a", "--source", "b"]) \
        == EXIT_BAD_INPUT
    assert not missing.exists()
    capsys.readouterr()
    assert main(["pool", "--ledger", str(path), "--source", "good", "--source", "noise",
                 "--method", "log", "--name", "P", "--n-boot", "5",
                 "--prior", "good=1", "--prior", "noise=3"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "as 'P' (backtest)" in out and f"origin {LAST}: good" in out
    with Ledger(path, readonly=True) as led:
        w = led.pool_weights("P")
        assert set(w["method"]) == {"log"}
        first = w[w.origin_year == FIRST].set_index("input_source")["value"]
        assert first["good"] == pytest.approx(0.25)
    verify_ledger(path)


def test_bad_source_error_names_it(path: Path) -> None:
    make_ledger(path, cases(n_countries=2))
    with pytest.raises(PoolInputError, match=r"no forecasts of source\(s\) \['nosuch'\]"):
        pool_sources(path, ["good", "nosuch"])


# ---------------------------------------------------------------------------- report

def test_report_shows_the_latest_pool_weights(path: Path) -> None:
    from r2p_models.report import build_report

    make_ledger(path, cases(n_countries=4))
    html = build_report(path, n_boot=10)
    assert "Pooled sources: weights" not in html  # no pool yet: no table
    res = pool_sources(path, ["good", "noise"], method="beta", n_boot=5, name="P",
                       issued_at=T0)
    html = build_report(path, n_boot=10)
    assert "Pooled sources: weights" in html
    section = html.split("Pooled sources: weights", 1)[1].split("</table>", 1)[0]
    last = res.weights[res.weights["origin_year"] == LAST]
    assert section.count('data-metric="pool_weight"') == len(last) == 4
    good = last.set_index("input_source").loc["good"]
    assert f'data-value="{good.value!r}"' in section or f"{good.value:.3f}" in section
    assert "beta a" in section and str(LAST) in section
