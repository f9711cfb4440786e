#!/usr/bin/env bash
# Sign and publish one release from a CI job: the one script behind the GitHub Action
# (github/action.yml) and the GitLab template (gitlab/slipway-push.yml).
#
# Server:   SLIPWAY_URL, SLIPWAY_TOKEN (a ci token, kept as a masked secret)
# Release:  PUSH_FILE, RELEASE_NAME, RELEASE_VERSION, RELEASE_KIND (os-image|model),
#           RELEASE_HARDWARE (comma-separated), SECURITY_VERSION (default 0)
# Provenance (signed with the release): SOURCE_REVISION, BUILDER, SBOM_DIGEST
# Key, one of: SIGNING_KEY_PEM (the PEM text of a file secret), SIGNING_KEY_FILE (its path),
#           or PKCS11_MODULE + PKCS11_TOKEN_LABEL + PKCS11_KEY_LABEL + PKCS11_PIN (an HSM)
# CLI:      SLIPWAY_CLI (default: slipway on PATH)
#
# Any refusal fails the job with the server's error code, also as a GitHub annotation.
set -euo pipefail

need() { [ -n "${!1:-}" ] || { echo "error: CI_CONFIG_MISSING: $1 is not set" >&2; exit 2; }; }
for v in SLIPWAY_URL SLIPWAY_TOKEN PUSH_FILE RELEASE_NAME RELEASE_VERSION RELEASE_KIND RELEASE_HARDWARE; do need "$v"; done

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
key=()
if [ -n "${SIGNING_KEY_PEM:-}" ]; then
  # the key never lands anywhere but a 0600 file that the trap removes
  (umask 077 && printf '%s\n' "$SIGNING_KEY_PEM" > "$workdir/release.pem")
  key=(--key "$workdir/release.pem")
elif [ -n "${SIGNING_KEY_FILE:-}" ]; then
  key=(--key "$SIGNING_KEY_FILE")
elif [ -n "${PKCS11_MODULE:-}" ]; then
  for v in PKCS11_TOKEN_LABEL PKCS11_KEY_LABEL PKCS11_PIN; do need "$v"; done
  key=(--key "pkcs11:token=${PKCS11_TOKEN_LABEL};object=${PKCS11_KEY_LABEL}")
else
  echo "error: CI_CONFIG_MISSING: set SIGNING_KEY_PEM, SIGNING_KEY_FILE or PKCS11_MODULE (+ PKCS11_TOKEN_LABEL, PKCS11_KEY_LABEL, PKCS11_PIN)" >&2
  exit 2
fi

provenance=()
[ -n "${SOURCE_REVISION:-}" ] && provenance+=(--source-revision "$SOURCE_REVISION")
[ -n "${BUILDER:-}" ] && provenance+=(--builder "$BUILDER")
[ -n "${SBOM_DIGEST:-}" ] && provenance+=(--sbom-digest "$SBOM_DIGEST")

read -r -a cli <<< "${SLIPWAY_CLI:-slipway}"
set +e
"${cli[@]}" push "$PUSH_FILE" --name "$RELEASE_NAME" --version "$RELEASE_VERSION" --kind "$RELEASE_KIND" \
  --hardware "$RELEASE_HARDWARE" --security-version "${SECURITY_VERSION:-0}" "${provenance[@]}" "${key[@]}" \
  > "$workdir/out.json" 2> >(tee "$workdir/err.log" >&2)
status=$?
set -e
wait # for tee
if [ "$status" -ne 0 ]; then
  line=$(grep -m1 -E '^error: ' "$workdir/err.log" || echo "error: PUSH_FAILED: slipway push exited $status")
  code=$(sed -E 's/^error: ([A-Z0-9_]+).*/\1/' <<< "$line")
  [ "${GITHUB_ACTIONS:-}" = true ] && echo "::error title=slipway push refused (${code})::${line#error: }"
  echo "slipway push failed: ${code}" >&2
  exit 1
fi
cat "$workdir/out.json"
id=$(sed -E 's/.*"id":"([^"]+)".*/\1/' "$workdir/out.json")
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "release-id=$id"; echo "metadata-file=${PUSH_FILE}.release.json"; } >> "$GITHUB_OUTPUT"
fi
