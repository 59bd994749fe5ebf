#!/usr/bin/env bash
# Packaging checks on the package as npm would publish it: publint (package.json against the files), then
# arethetypeswrong (each export's types under every resolution mode: CommonJS gets .d.cts, ESM .d.mts). Built once;
# packed with --ignore-scripts so that prepack does not build again. The node16 profile: byok-ai needs Node >= 20,
# whose resolution reads "exports"; TypeScript's legacy node10 mode, which ignores "exports", is not supported.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
npx publint --strict
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
npm pack --ignore-scripts --silent --pack-destination "$dir" >/dev/null
npx attw --profile node16 "$dir"/byok-ai-*.tgz
