#!/bin/sh
# Writes Alertmanager's configuration to stdout from the environment (Alertmanager cannot read variables itself).
# Every alert of deploy/prometheus/alerts.yml goes to one receiver, "operators":
#   ALERT_WEBHOOK_URL       a URL that receives Alertmanager's JSON (Slack/Matrix/ntfy bridges, your own endpoint…)
#   ALERT_EMAIL_TO          optional e-mail as well (or instead), which then needs ALERT_EMAIL_FROM and
#                           ALERT_SMTP_SMARTHOST (host:port); ALERT_SMTP_USERNAME / ALERT_SMTP_PASSWORD if it asks
#   ALERT_GROUP_WAIT        how long the first alert of a group waits for others (default 30s)
#   ALERT_REPEAT_INTERVAL   how often a still-firing alert is sent again (default 4h)
# Runs in the prom/alertmanager image (busybox sh) and in the tests; it exits 1 with one line when nothing
# would receive the alerts.
set -eu

fail() { echo "alertmanager: $*" >&2; exit 1; }
# A YAML double-quoted string: backslashes and quotes escaped; a line break has no place in any of these values.
quote() {
  case "$1" in *'
'*) fail "a value contains a line break" ;; esac
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

webhook="${ALERT_WEBHOOK_URL:-}"
email="${ALERT_EMAIL_TO:-}"
[ -n "$webhook$email" ] || fail "no receiver: set ALERT_WEBHOOK_URL (and/or ALERT_EMAIL_TO) in .env"
if [ -n "$email" ]; then
  [ -n "${ALERT_EMAIL_FROM:-}" ] || fail "ALERT_EMAIL_TO needs ALERT_EMAIL_FROM"
  [ -n "${ALERT_SMTP_SMARTHOST:-}" ] || fail "ALERT_EMAIL_TO needs ALERT_SMTP_SMARTHOST (host:port)"
fi

cat <<YAML
route:
  receiver: operators
  group_by: [alertname, bot]
  group_wait: ${ALERT_GROUP_WAIT:-30s}
  group_interval: 5m
  repeat_interval: ${ALERT_REPEAT_INTERVAL:-4h}
receivers:
  - name: operators
YAML
if [ -n "$webhook" ]; then
  cat <<YAML
    webhook_configs:
      - url: $(quote "$webhook")
        send_resolved: true
YAML
fi
if [ -n "$email" ]; then
  cat <<YAML
    email_configs:
      - to: $(quote "$email")
        from: $(quote "$ALERT_EMAIL_FROM")
        smarthost: $(quote "$ALERT_SMTP_SMARTHOST")
        send_resolved: true
YAML
  [ -z "${ALERT_SMTP_USERNAME:-}" ] || printf '        auth_username: %s\n' "$(quote "$ALERT_SMTP_USERNAME")"
  [ -z "${ALERT_SMTP_PASSWORD:-}" ] || printf '        auth_password: %s\n' "$(quote "$ALERT_SMTP_PASSWORD")"
fi
