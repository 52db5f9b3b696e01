"""The SDK's TypeScript declarations: ``tsc --noEmit`` accepts them (and the usage file that
calls every API), and they declare exactly what ``sdk-js/src/scanlet.js`` exports.

TypeScript is a dev dependency of sdk-js (``npm ci --prefix sdk-js``, done by
scripts/install); a missing install is a failure, never a skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.web.sdk_fixtures import SDK_DIR

pytestmark = pytest.mark.timeout(120)

TSC = SDK_DIR / "node_modules" / ".bin" / "tsc"
DECLARATIONS = SDK_DIR / "scanlet.d.ts"
CLASSES = ("Client", "ScanJob", "Task")

#: Lists the module's exports and, for the classes, their public methods (own and inherited
#: up to EventTarget/Error), as JSON. Importing must not touch browser globals.
LIST_EXPORTS = """
import * as sdk from "./src/scanlet.js";
const classes = {};
for (const name of __CLASSES__) {
  const methods = new Set();
  for (let proto = sdk[name].prototype; proto && proto !== EventTarget.prototype
       && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key !== "constructor" && !key.startsWith("_")
          && typeof Object.getOwnPropertyDescriptor(proto, key).value === "function") {
        methods.add(key);
      }
    }
  }
  classes[name] = [...methods].sort();
}
const kinds = Object.fromEntries(Object.entries(sdk).map(([k, v]) => [k, typeof v]));
console.log(JSON.stringify({ kinds, classes }));
""".replace("__CLASSES__", json.dumps(list(CLASSES)))


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is missing: install Debian's nodejs and npm (scripts/install does)"
    return node


def _class_body(source: str, name: str) -> str:
    """The text between the braces of ``export class <name> ... {`` in the declarations."""
    match = re.search(rf"^export (?:declare )?class {name}\b[^{{]*\{{", source, re.MULTILINE)
    assert match, f"class {name} is not declared in scanlet.d.ts"
    depth, start = 1, match.end()
    for index in range(start, len(source)):
        if source[index] == "{":
            depth += 1
        elif source[index] == "}":
            depth -= 1
            if depth == 0:
                return source[start:index]
    raise AssertionError(f"unbalanced braces in class {name}")


def test_tsc_accepts_the_declarations_and_the_usage_file() -> None:
    assert TSC.exists(), (
        f"{TSC} is missing: run `npm ci --prefix sdk-js --no-audit --no-fund` "
        "(scripts/install does it)")
    done = subprocess.run([str(TSC), "--noEmit", "-p", str(SDK_DIR)], capture_output=True,
                          text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = subprocess.run([str(TSC), "--noEmit", "-p", str(SDK_DIR), "--listFilesOnly"],
                            capture_output=True, text=True, timeout=100)
    files = {line.strip() for line in listed.stdout.splitlines()}
    assert str(DECLARATIONS) in files and str(SDK_DIR / "types-check" / "usage.ts") in files


def test_every_export_and_method_is_declared() -> None:
    done = subprocess.run([_node(), "--input-type=module", "-e", LIST_EXPORTS],
                          cwd=SDK_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # also: importing touches no window/document
    listed = json.loads(done.stdout)
    declarations = DECLARATIONS.read_text()

    missing = [name for name, kind in listed["kinds"].items() if not re.search(
        rf"^export (?:declare )?(?:const|function|class|let) {name}\b", declarations,
        re.MULTILINE)]
    assert not missing, f"exported by scanlet.js but not declared in scanlet.d.ts: {missing}"
    functions = {name for name, kind in listed["kinds"].items() if kind == "function"}
    assert {"connect", "Client", "ScanJob", "Task", "ScanletError", "NotRunningError",
            "LocalNetworkPermissionError", "VersionError", "PairingError"} <= functions

    declared_exports = set(re.findall(
        r"^export (?:declare )?(?:const|function|class|let) (\w+)", declarations, re.MULTILINE))
    extra = declared_exports - set(listed["kinds"])
    assert not extra, f"declared in scanlet.d.ts but not exported by scanlet.js: {extra}"

    for name in CLASSES:
        body = _class_body(declarations, name)
        declared = set(re.findall(r"^\s+(\w+)\s*[<(]", body, re.MULTILINE)) - {"constructor"}
        methods = set(listed["classes"][name])
        assert methods - declared == set(), f"{name}: methods not declared: {methods - declared}"
        events = {"addEventListener", "removeEventListener"}
        assert declared - methods - events == set(), \
            f"{name}: declared but not implemented: {declared - methods - events}"
