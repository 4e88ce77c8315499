"""Deploy-time parsing and validation of BPMN and DMN resources.

`parse_resource` turns one uploaded file into the process or decision definitions in it, or
raises a 400 `BadRequest` whose detail starts with the file name: the suffix must be BPMN or
DMN; `check_xml` (defusedxml) vets the raw bytes; a hardened lxml parser reads them; the tree
is checked against the BPMN 2.0 / DMN XSD shipped with SpiffWorkflow; and SpiffWorkflow's
Camunda parser builds every executable process (embedded subprocesses included) and every
decision, so a model the engine cannot run is refused at deploy time, not at start.
Metadata (key, name, camunda:versionTag ...) is read from the XML, not from Spiff internals.
Pure functions: no FastAPI, no database.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH as BPMN_XSD
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_XSDS
from SpiffWorkflow.exceptions import SpiffWorkflowException

from app.core.errors import BadRequest
from app.core.uploads import UploadLimits, check_xml
from app.services import model_checks

logger = logging.getLogger(__name__)

BPMN_SUFFIXES: Final = (".bpmn", ".bpmn20.xml")
DMN_SUFFIXES: Final = (".dmn", ".dmn11.xml")
BPMN_NS: Final = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_BPMN_NS: Final = "http://camunda.org/schema/1.0/bpmn"
CAMUNDA_DMN_NS: Final = "http://camunda.org/schema/1.0/dmn"
DMN_NAMESPACES: Final = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",  # 1.1
    "http://www.omg.org/spec/DMN/20180521/MODEL/",  # 1.2
    "https://www.omg.org/spec/DMN/20191111/MODEL/",  # 1.3
)
MAX_FIELD_LENGTH: Final = 255  # the key, name, version_tag and category columns
MAX_TTL_DAYS: Final = 2**31 - 1  # an INTEGER column
_PROCESS: Final = f"{{{BPMN_NS}}}process"
_CAMUNDA_ATTRIBUTES: Final = ("versionTag", "historyTimeToLive", "isStartableInTasklist")
_TTL = re.compile(r"([0-9]+)|P([0-9]+)D")
_TRUE = frozenset({"true", "enabled", "on", "active", "yes"})  # Camunda's parseBoolean...
_FALSE = frozenset({"false", "disabled", "off", "inactive", "no"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PREFIXES: Final = {
    BPMN_NS: "bpmn:",
    CAMUNDA_BPMN_NS: "camunda:",
    CAMUNDA_DMN_NS: "camunda:",
    **dict.fromkeys(DMN_NAMESPACES, "dmn:"),
}


@dataclass(frozen=True, slots=True)
class ParsedDefinition:
    kind: Literal["process", "decision"]
    key: str
    name: str | None
    version_tag: str | None
    history_time_to_live: int | None  # days
    category: str | None  # BPMN targetNamespace / DMN namespace of the definitions
    resource_name: str
    startable: bool = True  # camunda:isStartableInTasklist (processes only)
    # Names of the messages / signals its top-level start events wait for (processes only).
    start_messages: tuple[str, ...] = ()
    start_signals: tuple[str, ...] = ()


def is_definition_resource(filename: str) -> bool:
    """True for the suffixes Camunda deploys as BPMN or DMN (case-insensitive)."""
    return filename.lower().endswith(BPMN_SUFFIXES + DMN_SUFFIXES)


def parse_resource(filename: str, data: bytes) -> list[ParsedDefinition]:
    """The definitions in one BPMN/DMN file, in document order; 400 naming the file if invalid."""
    label = _CONTROL.sub("?", filename)
    label = label if len(label) <= 200 else label[:197] + "..."  # as check_xml shows it
    if not is_definition_resource(filename):
        suffixes = ", ".join(BPMN_SUFFIXES + DMN_SUFFIXES)
        raise BadRequest(f"{label}: not a BPMN or DMN resource ({suffixes})")
    check_xml(data, filename=filename, max_depth=UploadLimits().max_xml_depth)
    try:
        root = etree.fromstring(data, hardened_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise BadRequest(f"{label}: not well-formed XML ({_clean(str(exc))})") from None
    if filename.lower().endswith(BPMN_SUFFIXES):
        return _parse_bpmn(root, filename, label)
    return _parse_dmn(root, filename, label)


def hardened_xml_parser() -> Any:
    """lxml without entities, DTDs or network (check_xml has refused them already)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


# --- BPMN ------------------------------------------------------------------------------------


def _parse_bpmn(root: Any, filename: str, label: str) -> list[ParsedDefinition]:
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BadRequest(f"{label}: not a BPMN 2.0 document (root element {_clean(root.tag)})")
    # As Camunda: only isExecutable="true" is deployed; an absent attribute means skipped.
    found = [p for p in root.iterchildren(_PROCESS) if p.get("isExecutable") == "true"]
    if not found:
        raise BadRequest(f"{label}: contains no executable process")
    category = _bounded(root.get("targetNamespace"), "targetNamespace", label)
    definitions = [
        replace(
            definition,
            start_messages=_start_events(root, process, "message", label),
            start_signals=_start_events(root, process, "signal", label),
        )
        for definition, process in zip(
            _definitions("process", found, CAMUNDA_BPMN_NS, category, filename, label),
            found,
            strict=True,
        )
    ]
    keys = {d.key for d in definitions}
    with _parser_errors(label):
        _validate(root, BPMN_XSD, label)
        _check_sequence_flows(found, label)
        model_checks.check_bpmn(found, label)
        spiff = _DeployParser()
        spiff.add_bpmn_xml(etree.ElementTree(root), filename=filename)
        # Build the executable processes, then the embedded subprocesses that creates, until
        # nothing new appears. Call activities are resolved by key at run time instead.
        built: set[str] = set()
        while todo := [
            pid
            for pid, process_parser in spiff.process_parsers.items()
            if pid not in built and (pid in keys or process_parser.node.tag != _PROCESS)
        ]:
            built.update(todo)
            for pid in todo:
                spiff.get_spec(pid)
    return definitions


def _start_events(root: Any, process: Any, kind: str, label: str) -> tuple[str, ...]:
    """The `kind` ("message"/"signal") names the process's own start events wait for."""
    names = {e.get("id"): e.get("name") for e in root.iterchildren(f"{{{BPMN_NS}}}{kind}")}
    found = []
    for start in process.iterchildren(f"{{{BPMN_NS}}}startEvent"):
        for event in start.iterchildren(f"{{{BPMN_NS}}}{kind}EventDefinition"):
            name = names.get(event.get(f"{kind}Ref"))
            if not name:
                raise BadRequest(
                    f"{label}: startEvent {start.get('id')!r} references no named {kind}"
                )
            found.append(name)
    return tuple(found)


def _check_sequence_flows(processes: list[Any], label: str) -> None:
    """Spiff's own message for a dangling flow is misleading ("two items ... same ID?")."""
    for process in processes:
        ids = set(process.xpath(".//@id"))
        for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            for attribute in ("sourceRef", "targetRef"):
                if flow.get(attribute) not in ids:
                    raise BadRequest(
                        f"{label}: sequence flow {flow.get('id')!r} has an unknown {attribute} "
                        f"{flow.get(attribute)!r} (process {process.get('id')!r})"
                    )


class _DeployParser(CamundaParser):  # type: ignore[misc]  # untyped base
    """Camunda flavour, except that a business rule task may name a decision of another
    resource or deployment: Spiff would insist on the DMN being in the same parser."""

    def get_engine(self, decision_ref: str, node: Any) -> Any:
        if decision_ref in self.dmn_parsers:
            return super().get_engine(decision_ref, node)
        return None  # resolved by key when the task runs


# --- DMN -------------------------------------------------------------------------------------


def _parse_dmn(root: Any, filename: str, label: str) -> list[ParsedDefinition]:
    qname = etree.QName(root)
    if qname.namespace not in DMN_NAMESPACES or qname.localname != "definitions":
        raise BadRequest(f"{label}: not a DMN 1.1-1.3 document (root element {_clean(root.tag)})")
    decisions = list(root.iterchildren(f"{{{qname.namespace}}}decision"))
    if not decisions:
        raise BadRequest(f"{label}: contains no decision")
    category = _bounded(root.get("namespace"), "namespace", label)
    definitions = _definitions("decision", decisions, CAMUNDA_DMN_NS, category, filename, label)
    with _parser_errors(label):
        _validate(root, DMN_XSDS.get(qname.namespace), label)
        # Spiff's DMN parser takes the first decision of a document: give it one at a time.
        for decision, definition in zip(decisions, definitions, strict=True):
            model_checks.check_dmn(decision, label)
            nsmap = {prefix: uri for prefix, uri in root.nsmap.items() if prefix}
            single = etree.Element(
                root.tag, attrib=dict(root.attrib), nsmap={**nsmap, "dmn": qname.namespace}
            )
            single.append(copy.deepcopy(decision))
            spiff = CamundaParser()
            spiff.add_dmn_xml(single, filename=filename)
            spiff.dmn_parsers[definition.key].parse()
    return definitions


# --- shared ----------------------------------------------------------------------------------


def _definitions(
    kind: Literal["process", "decision"],
    elements: list[Any],
    camunda_ns: str,
    category: str | None,
    filename: str,
    label: str,
) -> list[ParsedDefinition]:
    definitions: list[ParsedDefinition] = []
    for element in elements:
        key = element.get("id")
        if not key:
            raise BadRequest(f"{label}: a {kind} has no id")
        if len(key) > MAX_FIELD_LENGTH:
            raise BadRequest(f"{label}: {kind} id is longer than {MAX_FIELD_LENGTH} characters")
        if any(d.key == key for d in definitions):
            raise BadRequest(f"{label}: duplicate {kind} id {key!r}")
        camunda = {a: element.get(f"{{{camunda_ns}}}{a}") for a in _CAMUNDA_ATTRIBUTES}
        definition = ParsedDefinition(
            kind=kind,
            key=key,
            name=_bounded(element.get("name"), "name", label),
            version_tag=_bounded(camunda["versionTag"], "versionTag", label),
            history_time_to_live=_ttl(camunda["historyTimeToLive"], label),
            category=category,
            resource_name=filename,
            startable=_startable(camunda["isStartableInTasklist"], label),
        )
        definitions.append(definition)
    return definitions


def _bounded(value: str | None, what: str, label: str) -> str | None:
    if value is not None and len(value) > MAX_FIELD_LENGTH:
        raise BadRequest(f"{label}: {what} is longer than {MAX_FIELD_LENGTH} characters")
    return value


def _ttl(value: str | None, label: str) -> int | None:
    """Days, as a non-negative integer or an ISO-8601 `P<n>D`; absent or empty is None."""
    if value is None or not value.strip():
        return None
    match = _TTL.fullmatch(value.strip())
    days = int(match.group(1) or match.group(2)) if match else None
    if days is None or days > MAX_TTL_DAYS:
        raise BadRequest(
            f"{label}: historyTimeToLive must be a number of days or P<n>D, not {value!r}"
        )
    return days


def _startable(value: str | None, label: str) -> bool:
    if value is None or value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise BadRequest(f"{label}: isStartableInTasklist must be true or false, not {value!r}")


# Validators are built once per schema. lxml keeps the error log on the validator, so the
# lock stops one thread from reporting another thread's error.
_validators: dict[str, Any] = {}
_validators_lock = threading.Lock()


def _validate(root: Any, xsd_path: str | None, label: str) -> None:
    if xsd_path is None:
        return
    with _validators_lock:
        if xsd_path not in _validators:
            try:
                _validators[xsd_path] = BpmnValidator(xsd_path)
            except etree.XMLSchemaParseError:  # SpiffWorkflow 3.2's DMN 1.2 XSD is broken
                logger.warning("cannot load %s: no schema validation for it", xsd_path)
                _validators[xsd_path] = None
        if _validators[xsd_path] is not None:
            _validators[xsd_path].validate(root, label)


@contextmanager
def _parser_errors(label: str) -> Iterator[None]:
    """What SpiffWorkflow and lxml raise on a bad model, as a 400 naming the file."""
    try:
        yield
    except BadRequest:
        raise
    except SpiffWorkflowException as exc:
        message = " ".join([str(exc.args[0] if exc.args else exc), *exc.notes]).strip()
        where = [f"{getattr(exc, 'tag', '')} {exc.id!r}"] if getattr(exc, "id", "") else []
        where += [f"line {exc.line_number}"] if getattr(exc, "line_number", "") else []
        message = message.rstrip(". ") + (f" ({', '.join(where)})" if where else "")
        raise BadRequest(f"{label}: {_clean(message)}") from None
    except etree.LxmlError as exc:
        raise BadRequest(f"{label}: {_clean(str(exc))}") from None
    except Exception as exc:  # e.g. KeyError for a missing attribute Spiff expects
        logger.info("unexpected model error in %s", label, exc_info=exc)
        raise BadRequest(f"{label}: {_clean(f'invalid model ({exc!r})')}") from None


def _clean(message: str) -> str:
    """A parser message fit for a problem body: namespace prefixes, one line, bounded."""
    for uri, prefix in _PREFIXES.items():
        message = message.replace(f"{{{uri}}}", prefix)
    message = _CONTROL.sub(" ", message)
    return message if len(message) <= 500 else message[:497] + "..."
