"""The engine benchmark's reading of /metrics: what it prints as p50/p99 and as counts comes from here."""

from __future__ import annotations

from bench.service import Scrape

HISTOGRAM = "warden_update_to_decision_seconds"


def histogram(counts: dict[str, float]) -> Scrape:
    """A cumulative histogram as prometheus_client's parser gives it."""
    samples = [(f"{HISTOGRAM}_bucket", {"le": le}, value) for le, value in counts.items()]
    samples.append((f"{HISTOGRAM}_count", {}, counts["+Inf"]))
    return Scrape({HISTOGRAM: samples}, {HISTOGRAM: "help"})


def test_a_quantile_is_interpolated_inside_its_bucket_as_prometheus_does():
    scrape = histogram({"0.01": 50.0, "0.05": 90.0, "0.1": 100.0, "+Inf": 100.0})

    assert scrape.quantile(HISTOGRAM, 0.5) == (0.01, 100)  # exactly the first bucket's bound
    p99, _ = scrape.quantile(HISTOGRAM, 0.99)  # type: ignore[misc]
    assert abs(p99 - 0.095) < 1e-9  # 9 of the 10 in (0.05, 0.1]
    p70, _ = scrape.quantile(HISTOGRAM, 0.7)  # type: ignore[misc]
    assert abs(p70 - 0.03) < 1e-9  # half-way through (0.01, 0.05]


def test_a_quantile_past_the_last_finite_bucket_is_that_bound_and_an_empty_one_is_none():
    assert histogram({"0.1": 1.0, "+Inf": 10.0}).quantile(HISTOGRAM, 0.99) == (0.1, 10)
    assert histogram({"0.1": 0.0, "+Inf": 0.0}).quantile(HISTOGRAM, 0.5) is None
    assert Scrape({}, {}).quantile(HISTOGRAM, 0.5) is None


def test_the_window_between_two_scrapes_counts_only_what_happened_in_it():
    before = histogram({"0.01": 40.0, "0.1": 40.0, "+Inf": 40.0})
    after = histogram({"0.01": 40.0, "0.1": 50.0, "+Inf": 50.0})

    p50, count = after.since(before, HISTOGRAM).quantile(HISTOGRAM, 0.5)  # type: ignore[misc]
    assert count == 10 and abs(p50 - 0.055) < 1e-9  # all ten in (0.01, 0.1], none before it


def test_totals_sum_the_matching_samples_and_leave_out_the_created_timestamps():
    scrape = Scrape({"warden_positions": [("warden_positions", {"status": "TRAILING"}, 3.0),
                                          ("warden_positions", {"status": "PROTECTED"}, 2.0)],
                     "warden_marks_superseded": [("warden_marks_superseded_total", {}, 7.0),
                                                 ("warden_marks_superseded_created", {}, 1.7e9)]}, {})

    assert scrape.total("warden_positions") == 5
    assert scrape.total("warden_positions", status="TRAILING") == 3
    assert scrape.named("supersed") == ["warden_marks_superseded"]
    assert scrape.total("warden_marks_superseded") == 7
