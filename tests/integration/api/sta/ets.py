"""The OGC's conformance suite for SensorThings API 1.0 (``org.opengis.cite:ets-sta10``), run as
the OGC runs it: its TestNG controller, given a test-run-props file naming the service root."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from services.common.settings import REPO_ROOT

POM = Path(__file__).parent / "ets-sta10" / "pom.xml"
MAVEN_SETTINGS = REPO_ROOT / "deploy" / "maven-settings.xml"
CONTROLLER = "org.opengis.cite.sta10.TestNGController"
SENSING_CORE = "org.opengis.cite.sta10.sensingCore.Capability1Tests"

# The props file without its DOCTYPE line: the DTD it names lives on the network.
_RUN_PROPS = """<?xml version="1.0" encoding="UTF-8"?>
<properties version="1.0">
  <comment>IOC Stream under test</comment>
  <entry key="iut">{iut}</entry>
  <entry key="ics">{level}</entry>
</properties>
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    test_class: str
    method: str
    status: str  # PASS, FAIL or SKIP
    message: str


def classpath(cache: Path) -> str:
    """The suite's classpath, resolved by Maven from Maven Central once, then cached."""
    cached = cache / "classpath.txt"
    if not cached.exists() or cached.stat().st_mtime < POM.stat().st_mtime:
        cache.mkdir(parents=True, exist_ok=True)
        maven = shutil.which("mvn")
        if maven is None:
            raise RuntimeError("mvn is not installed: `make tools` installs it (Debian's maven)")
        resolve = subprocess.run(
            [
                maven,
                "-q",
                "-B",
                "-s",
                str(MAVEN_SETTINGS),
                "-f",
                str(POM),
                "dependency:build-classpath",
                "-Dmdep.includeScope=runtime",
                f"-Dmdep.outputFile={cached}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        if resolve.returncode != 0:
            raise RuntimeError(f"Maven could not resolve ets-sta10:\n{resolve.stdout[-3000:]}")
    return cached.read_text(encoding="utf-8").strip()


def run_suite(iut: str, level: int, workdir: Path, cache: Path) -> tuple[list[Outcome], Path]:
    """Runs the suite against the service root ``iut`` up to conformance ``level`` (1: Sensing
    Core); its outcomes and its TestNG report."""
    workdir.mkdir(parents=True, exist_ok=True)
    props = workdir / "test-run-props.xml"
    props.write_text(_RUN_PROPS.format(iut=iut, level=level), encoding="utf-8")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java is not installed (Java 17 runs Kafka and the suite)")
    run = subprocess.run(
        # The controller writes its report under user.home.
        [java, f"-Duser.home={workdir}", "-cp", classpath(cache), CONTROLLER, str(props)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=workdir,
    )
    reports = sorted(workdir.glob("testng/*/testng-results.xml"))
    if run.returncode != 0 or not reports:
        raise RuntimeError(f"ets-sta10 did not run ({run.returncode}):\n{run.stderr[-3000:]}")
    return outcomes(reports[-1]), reports[-1]


def outcomes(report: Path) -> list[Outcome]:
    """Every test method of a TestNG report (configuration methods left out)."""
    found = []
    for test_class in ElementTree.parse(report).iter("class"):
        for method in test_class.iter("test-method"):
            if method.get("is-config") == "true":
                continue
            message = method.findtext("exception/message") or ""
            found.append(
                Outcome(
                    test_class.get("name", ""),
                    method.get("name", ""),
                    method.get("status", ""),
                    message.strip(),
                )
            )
    return found
