#!/usr/bin/env bash
# `buf breaking` against the last release tag (v*), or, before the first
# release, against the last commit. A wire- or JSON-breaking change to proto/
# fails here; such a change needs a new protocol version, not an edit.
set -euo pipefail
cd "$(dirname "$0")/.."
against=""
if git rev-parse --git-dir >/dev/null 2>&1; then
  tag=$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null || true)
  if [ -n "$tag" ]; then
    against=".git#tag=$tag"
  elif git rev-parse --verify -q HEAD >/dev/null; then
    against=".git#ref=HEAD"
  fi
fi
if [ -z "$against" ]; then
  echo "buf breaking: no git history to compare against; skipped" >&2
  exit 0
fi
echo "buf breaking --against $against"
exec npx --no-install buf breaking --against "$against"
