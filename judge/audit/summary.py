"""The audit's summary as JSON: what the new defences change, per family and per probe.

"On" is the hardened judge (guard and normalised view), "off" the same judge without the
view; rates are shares from 0 to 1 (None when nothing could be scored).
"""

from __future__ import annotations

from typing import Any

ON, OFF = "hardened", "no view"


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """{judge, questions, families: {on, off, n}, probes: {wrong and correct flips and swings on
    and off}, genuine: {accepted on and off}}; the configurations must include both."""
    missing = [name for name in (ON, OFF) if name not in report["configurations"]]
    if missing:
        raise ValueError(f"the summary compares {ON!r} with {OFF!r}; the audit did not run {missing[0]!r}")
    summary: dict[str, Any] = {
        "judge": report["model"],
        "questions": report["questions"],
        "threshold": report["threshold"],
        "on": "guard and normalised view (hardened)",
        "off": "guard, no normalised view (no view)",
        "families": {
            family: {
                "defences_on": counts[ON]["rate"],
                "defences_off": counts[OFF]["rate"],
                "n": counts[ON]["n"] - counts[ON]["unscored"],
            }
            for family, counts in report["families"].items()
        },
        "genuine": {
            "accepted_on": report["genuine"][ON]["rate"],
            "accepted_off": report["genuine"][OFF]["rate"],
            "n": report["genuine"]["n"],
        },
    }
    if "probes" in report and "probes_no_view" in report:
        on, off = report["probes"]["probes"], report["probes_no_view"]["probes"]
        summary["probes"] = {
            probe: {
                "wrong_flip_on": on[probe]["wrong"]["flip_rate"],
                "wrong_flip_off": off[probe]["wrong"]["flip_rate"],
                "wrong_swing_on": on[probe]["wrong"]["swing"],
                "wrong_swing_off": off[probe]["wrong"]["swing"],
                "correct_flip_on": on[probe]["correct"]["flip_rate"],
                "correct_flip_off": off[probe]["correct"]["flip_rate"],
                "n": on[probe]["wrong"]["n"] - on[probe]["wrong"]["unscored"],
            }
            for probe in on
        }
    return summary
