"""What is wrong with the feeds, in sentences a reader can act on (the home page and /healthz)."""

from __future__ import annotations


def problems(health: dict) -> list[str]:
    """From stats.feed_health: plain sentences, most serious first; empty when all is well."""
    total, checked, failing = health["total"], health["checked"], health["failing"]
    error = health.get("commonest_error")
    often = f" The commonest error: {error.strip().splitlines()[0][:200].rstrip('.')}." if error else ""
    if total == 0:
        return ["No feeds yet: add one on the Feeds page, or with `followup feeds add URL` (the seed feeds load "
                "on first start)."]
    if checked == 0:
        return [f"None of the {total} feeds has been checked yet: polling runs under `followup run` "
                "(or once with `followup poll`)."]
    out = []
    if failing and failing >= checked:
        out.append(f"All {failing} checked feeds failed on their last check.{often} Check that this machine "
                   "reaches the internet (proxy, firewall, DNS); the Feeds page lists each feed's error.")
    elif failing * 2 > checked:
        out.append(f"{failing} of {checked} checked feeds are failing.{often} The Feeds page lists each error.")
    if not health.get("entries") and failing < checked:
        out.append("The feeds were read but hold no entries yet.")
    return out
