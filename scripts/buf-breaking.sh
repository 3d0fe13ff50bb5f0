#!/usr/bin/env bash
# `buf breaking` against the committed image of the last released proto,
# proto/baseline/imwire-v1.binpb. A wire- or JSON-breaking change to proto/
# (rules: buf.yaml `breaking`) fails here; such a change needs a new protocol
# version, not an edit. A missing baseline is a failure, never a skip: a check
# that has nothing to compare with proves nothing.
#
# Releasing: after tagging a release whose proto/ changed, refresh the image
# from the tagged tree and commit it with the release:
#   npx buf build --exclude-source-info -o proto/baseline/imwire-v1.binpb
# Until the first release (0.1.0) the baseline is the v1 draft as first
# frozen; additive changes (new fields, messages, enum values) pass.
set -euo pipefail
cd "$(dirname "$0")/.."
baseline="proto/baseline/imwire-v1.binpb"
if [ ! -f "$baseline" ]; then
  echo "buf breaking: baseline $baseline is missing (see scripts/buf-breaking.sh for how a release makes it)" >&2
  exit 1
fi
echo "buf breaking --against $baseline"
exec npx --no-install buf breaking --against "$baseline"
