#!/usr/bin/env bash
# Compares a short training on the CPU and on CUDA; exit 77 (skipped) when this build sees no CUDA device.
cli=$1
if ! "$cli" devices | grep -q '^cuda'; then
  echo "skipped: no CUDA device visible to this build (reviewkd devices lists only the CPU)"
  exit 77
fi
exec "$cli" devices --compare cuda --steps 8
