"""A contract diff as JUnit XML, so a CI's test-report view lists every classified change.

One ``<testcase>`` per change (``classname`` the rule id, ``name`` the operation and pointer). A
change at or above ``--fail-on`` that the allowlist did not accept is a ``<failure>`` whose
``type`` is its severity; every other change passes, with its severity as a property and its
reason in ``system-out``. No changes at all is one passing ``no API changes`` testcase.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from contracts.model import DiffReport


def render_junit(report: DiffReport, title: str = "OpenAPI changes") -> str:
    from contracts.render import headline, operation_of

    root = ET.Element("testsuites", name=title)
    suite = ET.SubElement(root, "testsuite", name="contract diff")
    summary = ET.SubElement(suite, "properties")
    ET.SubElement(summary, "property", name="summary", value=headline(report))
    ET.SubElement(summary, "property", name="fail_on", value=report.fail_on)
    for change in report.changes:
        case = ET.SubElement(
            suite, "testcase", classname=change.rule, name=f"{operation_of(change)} {change.pointer}", time="0"
        )
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", name="severity", value=change.level)
        ET.SubElement(properties, "property", name="status", value=change.status)
        if change.policy:
            ET.SubElement(properties, "property", name="policy", value=change.policy)
        if change.fails(report.fail_on):
            failure = ET.SubElement(case, "failure", type=change.level, message=change.reason)
            failure.text = f"{change.level} {change.rule} at {change.pointer}"
        else:
            out = ET.SubElement(case, "system-out")
            out.text = change.reason + (f" (accepted: {change.accepted_reason})" if change.accepted_reason else "")
    if not report.changes:
        ET.SubElement(suite, "testcase", classname="contract", name="no API changes", time="0")
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suite.set("time", "0")
    if report.notes:
        ET.SubElement(suite, "system-err").text = "\n".join(report.notes)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
