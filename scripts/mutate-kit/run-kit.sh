#!/bin/sh
# Stryker's test command (see run-kit.mjs). A mutant outside the sample
# exits 0 here, without starting node: on a loaded 2-core machine a node
# start costs about a second, times ~2000 unsampled mutants.
if [ -n "$__STRYKER_ACTIVE_MUTANT__" ] && ! grep -q "\"id\": \"$__STRYKER_ACTIVE_MUTANT__\"," "$MUTATE_KIT_SAMPLE"; then
  exit 0
fi
if [ -n "$MUTATE_KIT_ONLY" ] && [ -n "$__STRYKER_ACTIVE_MUTANT__" ] && ! grep -qx "$__STRYKER_ACTIVE_MUTANT__" "$MUTATE_KIT_ONLY"; then
  exit 0
fi
exec node scripts/mutate-kit/run-kit.mjs
