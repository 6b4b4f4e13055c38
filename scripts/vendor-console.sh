#!/usr/bin/env bash
# Fetches the web console's charting library, uPlot (MIT), from the npm
# registry into crates/sluice-console/assets/vendor/, where the console
# compiles it into the binary (so the console works without internet).
# The files are committed; run this to update or to check them.
set -euo pipefail
cd "$(dirname "$0")/.."
UPLOT_VERSION=1.6.32
# npm's recorded integrity of uplot-1.6.32.tgz
UPLOT_INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
dest=crates/sluice-console/assets/vendor
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@${UPLOT_VERSION}" >/dev/null)
got="sha512-$(openssl dgst -sha512 -binary "$tmp/uplot-${UPLOT_VERSION}.tgz" | base64 -w0)"
[ "$got" = "$UPLOT_INTEGRITY" ] || { echo "uplot ${UPLOT_VERSION}: integrity mismatch ($got)" >&2; exit 1; }
tar xzf "$tmp/uplot-${UPLOT_VERSION}.tgz" -C "$tmp"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$dest/"
cp "$tmp/package/LICENSE" "$dest/LICENSE-uPlot"
if git diff --quiet -- "$dest"; then
  echo "uPlot ${UPLOT_VERSION}: vendored files match the npm package"
else
  echo "uPlot ${UPLOT_VERSION}: vendored files updated"
fi
