"""Deploy-time parsing of BPMN/DMN: definitions and their metadata, or a 400 naming the file.

Pure unit tests on small Camunda-Modeler-style models written inline.
"""

from __future__ import annotations

import pytest

from app.core.errors import BadRequest
from app.services.definitions_parser import (
    ParsedDefinition,
    is_definition_resource,
    parse_resource,
)

BPMN_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:modeler="http://camunda.org/schema/modeler/1.0"
    id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn"
    exporter="Camunda Modeler" exporterVersion="5.20.0"
    modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
"""

# start event → user task → end event, with a diagram as the modeler writes it.
INVOICE_PROCESS = """
  <bpmn:process id="invoice" name="Invoice approval" isExecutable="true"
      camunda:versionTag="1.2.0" camunda:historyTimeToLive="180">
    <bpmn:startEvent id="StartEvent_1" name="Invoice received">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Approve" />
    <bpmn:userTask id="Approve" name="Approve invoice" camunda:assignee="demo">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="amount" label="Amount" type="long" />
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Approve" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" name="Invoice approved">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
"""

DIAGRAM = """
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="invoice">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="179" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Approve_di" bpmnElement="Approve">
        <dc:Bounds x="270" y="77" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="215" y="117" />
        <di:waypoint x="270" y="117" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
"""

# A second executable process (not startable in the tasklist, TTL as an ISO duration) and a
# non-executable one, e.g. a collaboration participant only drawn for documentation.
REMINDER_PROCESS = """
  <bpmn:process id="reminder" isExecutable="true" camunda:historyTimeToLive="P5D"
      camunda:isStartableInTasklist="false">
    <bpmn:startEvent id="Start_R" />
    <bpmn:sequenceFlow id="Flow_R1" sourceRef="Start_R" targetRef="End_R" />
    <bpmn:endEvent id="End_R" />
  </bpmn:process>
  <bpmn:process id="supplier" name="Supplier" isExecutable="false">
    <bpmn:task id="Task_S" />
  </bpmn:process>
"""


def bpmn(*processes: str, diagram: str = "") -> bytes:
    return (BPMN_HEAD + "".join(processes) + diagram + "</bpmn:definitions>\n").encode()


DMN13_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"
    xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/"
    xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/"
    xmlns:camunda="http://camunda.org/schema/1.0/dmn"
    xmlns:modeler="http://camunda.org/schema/modeler/1.0"
    id="dinnerDecisions" name="Dinner Decisions" namespace="http://camunda.org/schema/1.0/dmn"
    exporter="Camunda Modeler" exporterVersion="5.20.0"
    modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
"""

DISH_DECISION = """
  <decision id="dish" name="Dish" camunda:versionTag="v3" camunda:historyTimeToLive="P30D">
    <decisionTable id="DecisionTable_dish">
      <input id="Input_season" label="Season">
        <inputExpression id="InputExpression_season" typeRef="string">
          <text>season</text>
        </inputExpression>
      </input>
      <output id="Output_dish" label="Dish" name="dish" typeRef="string" />
      <rule id="Rule_1">
        <inputEntry id="UnaryTests_1"><text>"Winter"</text></inputEntry>
        <outputEntry id="LiteralExpression_1"><text>"Roastbeef"</text></outputEntry>
      </rule>
      <rule id="Rule_2">
        <inputEntry id="UnaryTests_2"><text>-</text></inputEntry>
        <outputEntry id="LiteralExpression_2"><text>"Salad"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
"""

BEVERAGE_DECISION = """
  <decision id="beverages" name="Beverages">
    <informationRequirement id="InformationRequirement_1">
      <requiredDecision href="#dish" />
    </informationRequirement>
    <decisionTable id="DecisionTable_beverages" hitPolicy="COLLECT">
      <input id="Input_dish" label="Dish">
        <inputExpression id="InputExpression_dish" typeRef="string">
          <text>dish</text>
        </inputExpression>
      </input>
      <output id="Output_beverage" label="Beverage" name="beverage" typeRef="string" />
      <rule id="Rule_3">
        <inputEntry id="UnaryTests_3"><text>"Roastbeef"</text></inputEntry>
        <outputEntry id="LiteralExpression_3"><text>"Pinot Noir"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
"""

DMNDI = """
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="DMNDiagram_1">
      <dmndi:DMNShape id="DMNShape_dish" dmnElementRef="dish">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
"""

DMN11 = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/DMN/20151101/dmn.xsd"
    xmlns:camunda="http://camunda.org/schema/1.0/dmn"
    id="definitions" name="definitions" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="season" name="Season" camunda:historyTimeToLive="7">
    <decisionTable id="decisionTable">
      <input id="input1" label="Month">
        <inputExpression id="inputExpression1" typeRef="integer">
          <text>month</text>
        </inputExpression>
      </input>
      <output id="output1" label="Season" name="season" typeRef="string" />
      <rule id="row-1">
        <inputEntry id="UnaryTests_1"><text>&lt; 3</text></inputEntry>
        <outputEntry id="LiteralExpression_1"><text>"Winter"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def dmn13(*decisions: str) -> bytes:
    return (DMN13_HEAD + "".join(decisions) + DMNDI + "</definitions>\n").encode()


def rejected(filename: str, data: bytes) -> str:
    """The problem detail of the 400; it always names the file first."""
    with pytest.raises(BadRequest) as caught:
        parse_resource(filename, data)
    assert caught.value.status == 400
    assert caught.value.detail.startswith(f"{filename}: "), caught.value.detail
    return caught.value.detail


# --- valid models ----------------------------------------------------------------------------


def test_bpmn_with_one_process() -> None:
    assert parse_resource("invoice.bpmn", bpmn(INVOICE_PROCESS, diagram=DIAGRAM)) == [
        ParsedDefinition(
            kind="process",
            key="invoice",
            name="Invoice approval",
            version_tag="1.2.0",
            history_time_to_live=180,
            category="http://bpmn.io/schema/bpmn",
            resource_name="invoice.bpmn",
            startable=True,
        )
    ]


def test_bpmn_with_two_executable_processes_skips_the_non_executable_one() -> None:
    parsed = parse_resource("processes/Invoice.BPMN20.XML", bpmn(INVOICE_PROCESS, REMINDER_PROCESS))

    assert [d.key for d in parsed] == ["invoice", "reminder"]
    reminder = parsed[1]
    assert reminder.kind == "process"
    assert reminder.name is None
    assert reminder.version_tag is None
    assert reminder.history_time_to_live == 5  # P5D
    assert reminder.startable is False
    assert {d.resource_name for d in parsed} == {"processes/Invoice.BPMN20.XML"}


def test_process_without_is_executable_is_skipped_like_camunda_does() -> None:
    implicit = REMINDER_PROCESS.replace(' isExecutable="true"', "")
    assert [d.key for d in parse_resource("two.bpmn", bpmn(INVOICE_PROCESS, implicit))] == [
        "invoice"
    ]


def test_business_rule_task_may_reference_a_decision_of_another_resource() -> None:
    process = INVOICE_PROCESS.replace("bpmn:userTask", "bpmn:businessRuleTask").replace(
        'camunda:assignee="demo"',
        'camunda:decisionRef="dish" camunda:mapDecisionResult="singleEntry"',
    )
    assert [d.key for d in parse_resource("rules.bpmn", bpmn(process))] == ["invoice"]


def test_dmn_with_two_decisions() -> None:
    parsed = parse_resource("dinner.dmn", dmn13(DISH_DECISION, BEVERAGE_DECISION))

    assert parsed == [
        ParsedDefinition(
            kind="decision",
            key="dish",
            name="Dish",
            version_tag="v3",
            history_time_to_live=30,
            category="http://camunda.org/schema/1.0/dmn",
            resource_name="dinner.dmn",
        ),
        ParsedDefinition(
            kind="decision",
            key="beverages",
            name="Beverages",
            version_tag=None,
            history_time_to_live=None,
            category="http://camunda.org/schema/1.0/dmn",
            resource_name="dinner.dmn",
        ),
    ]


def test_dmn_1_1_and_1_2_namespaces() -> None:
    [season] = parse_resource("season.dmn11.xml", DMN11)
    assert (season.kind, season.key, season.history_time_to_live) == ("decision", "season", 7)

    dmn12 = dmn13(DISH_DECISION).replace(
        b"https://www.omg.org/spec/DMN/20191111/", b"http://www.omg.org/spec/DMN/20180521/"
    )
    assert [d.key for d in parse_resource("dish.DMN", dmn12)] == ["dish"]


def test_suffixes() -> None:
    for name in ("a.bpmn", "a.BPMN", "dir/a.bpmn20.xml", "a.dmn", "a.Dmn11.Xml"):
        assert is_definition_resource(name), name
    for name in ("a.xml", "a.bpmn.txt", "a.zip", "a.dmn11", "bpmn"):
        assert not is_definition_resource(name), name


# --- invalid models --------------------------------------------------------------------------


def test_sequence_flow_to_a_missing_element() -> None:
    broken = INVOICE_PROCESS.replace('targetRef="EndEvent_1"', 'targetRef="Nowhere"')
    detail = rejected("invoice.bpmn", bpmn(broken))
    assert "Flow_2" in detail and "Nowhere" in detail


def test_structure_spiffworkflow_rejects() -> None:
    no_start = INVOICE_PROCESS.replace("bpmn:startEvent", "bpmn:intermediateThrowEvent")
    assert "No start event found" in rejected("no-start.bpmn", bpmn(no_start))

    unsupported = INVOICE_PROCESS.replace("bpmn:userTask", "bpmn:complexGateway").replace(
        ' camunda:assignee="demo"', ""
    )
    detail = rejected("complex.bpmn", bpmn(unsupported))
    assert "no support" in detail and "Approve" in detail


def test_embedded_subprocess_is_validated_too() -> None:
    process = INVOICE_PROCESS.replace(
        '<bpmn:endEvent id="EndEvent_1" name="Invoice approved">',
        '<bpmn:subProcess id="Sub"><bpmn:task id="Lonely" /></bpmn:subProcess>'
        '<bpmn:endEvent id="EndEvent_1" name="Invoice approved">',
    ).replace('targetRef="EndEvent_1"', 'targetRef="Sub"')
    assert "start event" in rejected("sub.bpmn", bpmn(process))


def test_schema_violation() -> None:
    broken = INVOICE_PROCESS.replace(
        '<bpmn:endEvent id="EndEvent_1" name="Invoice approved">',
        '<bpmn:endEvent id="EndEvent_1" name="Invoice approved"><bpmn:bogus />',
    )
    assert "bpmn:bogus" in rejected("invoice.bpmn", bpmn(broken))


def test_invalid_decision_table() -> None:
    bad_output = DISH_DECISION.replace('"Salad"', "${salad")
    message = rejected("dinner.dmn", dmn13(bad_output))
    assert "outputEntry 'LiteralExpression_2'" in message and "${...}" in message

    unknown = DISH_DECISION.replace('<rule id="Rule_2">', '<bogus id="x" /><rule id="Rule_2">')
    assert "dmn:bogus" in rejected("dinner.dmn", dmn13(unknown))


def test_no_executable_process_or_no_decision() -> None:
    documentation_only = INVOICE_PROCESS.replace('isExecutable="true"', 'isExecutable="false"')
    assert "no executable process" in rejected("doc.bpmn", bpmn(documentation_only))
    assert "no decision" in rejected("empty.dmn", dmn13())


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("historyTimeToLive", "P1M"),
        ("historyTimeToLive", "-1"),
        ("historyTimeToLive", "soon"),
        ("historyTimeToLive", "99999999999"),
        ("isStartableInTasklist", "maybe"),
    ],
)
def test_invalid_camunda_attributes(attribute: str, value: str) -> None:
    process = INVOICE_PROCESS.replace(
        'camunda:historyTimeToLive="180"', f'camunda:{attribute}="{value}"'
    )
    assert attribute in rejected("invoice.bpmn", bpmn(process))


def test_key_longer_than_255_characters() -> None:
    long_key = "p" * 256
    process = INVOICE_PROCESS.replace('id="invoice"', f'id="{long_key}"')
    assert "longer than 255" in rejected("long.bpmn", bpmn(process))
    ok = INVOICE_PROCESS.replace('id="invoice"', f'id="{long_key[:255]}"')
    assert parse_resource("ok.bpmn", bpmn(ok))[0].key == long_key[:255]


def test_duplicate_decision_id() -> None:
    twice = BEVERAGE_DECISION.replace('id="beverages"', 'id="dish"')
    assert "duplicate" in rejected("dinner.dmn", dmn13(DISH_DECISION, twice))


def test_wrong_document_type_for_the_suffix() -> None:
    assert "not a BPMN 2.0 document" in rejected("dish.bpmn", dmn13(DISH_DECISION))
    assert "not a DMN" in rejected("invoice.dmn", bpmn(INVOICE_PROCESS))


# --- hostile or broken bytes -----------------------------------------------------------------


def test_malformed_xml() -> None:
    assert "well-formed" in rejected("invoice.bpmn", bpmn(INVOICE_PROCESS)[:-30])


def test_doctype_is_refused_by_check_xml() -> None:
    data = bpmn(INVOICE_PROCESS).replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    )
    assert "DOCTYPE" in rejected("invoice.bpmn", data)


def test_unknown_suffix() -> None:
    assert "not a BPMN or DMN resource" in rejected("invoice.xml", bpmn(INVOICE_PROCESS))


def test_empty_file() -> None:
    rejected("empty.bpmn", b"")
    rejected("empty.dmn", b"")
