#!/usr/bin/env bash
# Writes deploy/kubernetes/daemon/prometheusrule.yaml: the alert rules of
# deploy/prometheus/batch_cleanup_alerts.yml (the one source) as a Prometheus Operator
# PrometheusRule. Run it after changing the rules; the package.kubernetes test fails while the
# two differ.
set -euo pipefail
cd "$(dirname "$0")/.."
rules=deploy/prometheus/batch_cleanup_alerts.yml
out=deploy/kubernetes/daemon/prometheusrule.yaml
{
  echo "# Generated from $rules"
  echo "# by scripts/kubernetes_rules.sh: edit the rules there."
  echo "apiVersion: monitoring.coreos.com/v1"
  echo "kind: PrometheusRule"
  echo "metadata:"
  echo "  name: batch-cleanup"
  echo "spec:"
  # The rules file without its leading comment, indented under spec.
  sed -n '/^[^#]/,$p' "$rules" | sed 's/^\(.\)/  \1/'
} >"$out.tmp"
mv -f "$out.tmp" "$out"
echo "$out"
