"""Audit the locked dependencies with pip-audit: fail on a known vulnerability that has a fix.

Usage: uv run --frozen python scripts/audit_dependencies.py
The lock is exported without hashes (pip-audit resolves nothing: --no-deps). When the
vulnerability service cannot be reached (an offline machine), the audit says so and passes,
so that CI without internet still runs; a vulnerability without a released fix is reported
but does not fail the build.
"""

from __future__ import annotations

import json
import subprocess
import sys


def locked_requirements() -> str:
    return subprocess.run(
        ["uv", "export", "--frozen", "--format", "requirements-txt", "--no-hashes",
         "--no-emit-project", "--all-groups"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def main() -> int:
    audit = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
         "--no-deps", "--disable-pip", "-r", "/dev/stdin"],
        input=locked_requirements(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        report = json.loads(audit.stdout)
    except json.JSONDecodeError:
        reason = (audit.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"dependency audit NOT RUN: the vulnerability service is unreachable ({reason})")
        return 0
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        print(
            f"dependency audit NOT RUN: none of {len(dependencies)} locked packages could be "
            "looked up (the vulnerability service is unreachable from here)"
        )
        return 0
    fixable, unfixed = [], []
    for dependency in audited:
        for vuln in dependency.get("vulns", []):
            line = f"{dependency['name']} {dependency['version']}: {vuln['id']}"
            if vuln.get("fix_versions"):
                fixable.append(f"{line} (fixed in {', '.join(vuln['fix_versions'])})")
            else:
                unfixed.append(f"{line} (no fix released yet)")
    for line in unfixed:
        print(f"known vulnerability, no fix yet: {line}")
    skipped = [d["name"] for d in dependencies if "skip_reason" in d]
    if skipped:
        print(f"not audited ({len(skipped)}): {', '.join(skipped)}")
    if fixable:
        print("dependency audit FAILED: upgrade these in uv.lock (uv lock --upgrade-package NAME):")
        for line in fixable:
            print(f"  {line}")
        return 1
    print(f"dependency audit passed: {len(audited)} packages, no fixable known vulnerability")
    return 0


if __name__ == "__main__":
    sys.exit(main())
