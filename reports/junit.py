"""Gate outcomes as JUnit XML, so any CI's test-report view shows them.

Mapping (documented in docs/reports.md):

==============  =====================================================================
gate outcome    JUnit
==============  =====================================================================
pass            ``<testcase>`` with no child
fail            ``<failure type="gate-failed">``
inconclusive    ``<skipped type="inconclusive">``; with ``--strict-inconclusive``
                ``<failure type="inconclusive">``
skipped         ``<skipped type="not-applicable">`` (profile/baseline not present)
==============  =====================================================================

Run validity is a second ``<testsuite name="run validity">`` with one testcase per results file;
an invalid run is an ``<error type="invalid-run">`` there, so gate testcases stay one per gate.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from reports.gates import Evaluation
from reports.results import RunSet

GATES_SUITE = "quality gates"
VALIDITY_SUITE = "run validity"


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=name)


def _finish(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))
    suite.set("time", "0")


def build(evaluation: Evaluation, runset: RunSet) -> ET.Element:
    root = ET.Element("testsuites", name="harness gates")
    gates = _suite(root, GATES_SUITE)
    for result in evaluation.gates:
        spec = result.spec
        case = ET.SubElement(gates, "testcase", classname=f"gates.{spec.kind}", name=spec.name, time="0")
        message = f"{result.outcome}: {result.detail}"
        if result.outcome == "fail":
            ET.SubElement(case, "failure", type="gate-failed", message=message).text = result.detail
        elif result.outcome == "inconclusive":
            tag = "failure" if evaluation.strict_inconclusive else "skipped"
            ET.SubElement(case, tag, type="inconclusive", message=message).text = result.detail
        elif result.outcome == "skipped":
            ET.SubElement(case, "skipped", type="not-applicable", message=message)
        else:
            ET.SubElement(case, "system-out").text = result.detail
    _finish(gates)
    validity = _suite(root, VALIDITY_SUITE)
    for doc in runset.docs:
        case = ET.SubElement(
            validity, "testcase", classname="validity", name=f"{doc['profile']} ({doc['run_id']})", time="0"
        )
        if not doc["validity"]["valid"]:
            reasons = "; ".join(doc["validity"]["reasons"]) or "marked invalid by the load runner"
            ET.SubElement(case, "error", type="invalid-run", message=f"invalid run: {reasons}").text = reasons
    _finish(validity)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root.findall("testsuite"))))
    return root


def to_string(evaluation: Evaluation, runset: RunSet) -> str:
    root = build(evaluation, runset)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(path: Path, evaluation: Evaluation, runset: RunSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_string(evaluation, runset), encoding="utf-8")
