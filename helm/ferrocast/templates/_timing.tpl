{{/*
Shutdown timing. Each role drains on SIGTERM (origins through their preStop hook) within
deadlines set in values; the pod's terminationGracePeriodSeconds must outlast them, or the
kubelet kills the process in the middle of flushing segments. Left empty, it is computed as
the deadlines plus 15 s; an override below the minimum fails rendering.
*/}}

{{/* Seconds `ferrocast drain` waits in the origins' preStop hook: both deadlines plus 5 s. */}}
{{- define "ferrocast.origin.drainTimeoutSeconds" -}}
{{- $publish := include "ferrocast.durationSeconds" (dict "name" "origin.drain.publishDeadline" "value" .Values.origin.drain.publishDeadline) | int -}}
{{- $flush := include "ferrocast.durationSeconds" (dict "name" "origin.drain.flushDeadline" "value" .Values.origin.drain.flushDeadline) | int -}}
{{- add $publish $flush 5 -}}
{{- end -}}

{{/*
Grace period of one role. Call with (dict "role" "origin" "values" .Values.origin "work" N
"minimum" M "explain" "...") where N is the seconds the pod's drain takes at most (hooks
included) and M the shortest acceptable grace period. Default: N + 15 s.
*/}}
{{- define "ferrocast.gracePeriod" -}}
{{- $minimum := .minimum -}}
{{- $given := .values.terminationGracePeriodSeconds -}}
{{- if kindIs "invalid" $given -}}
{{- add .work 15 -}}
{{- else -}}
{{- $seconds := $given | int -}}
{{- if lt $seconds $minimum -}}
{{- fail (printf "%s.terminationGracePeriodSeconds=%d is too short: it must be at least %d s (%s), or the kubelet kills the pod before it has drained. Leave it empty (null) to compute it." .role $seconds $minimum .explain) -}}
{{- end -}}
{{- $seconds -}}
{{- end -}}
{{- end -}}

{{/* Origins: publishDeadline + flushDeadline + 15 s; at least the preStop drain's timeout + 5 s. */}}
{{- define "ferrocast.origin.gracePeriod" -}}
{{- $timeout := include "ferrocast.origin.drainTimeoutSeconds" . | int -}}
{{- include "ferrocast.gracePeriod" (dict "role" "origin" "values" .Values.origin "work" (sub $timeout 5) "minimum" (add $timeout 5) "explain" (printf "drain.publishDeadline %s + drain.flushDeadline %s + 10 s: the preStop drain waits up to %d s, and the process needs a moment to exit after it" .Values.origin.drain.publishDeadline .Values.origin.drain.flushDeadline $timeout)) -}}
{{- end -}}

{{- define "ferrocast.edge.gracePeriod" -}}
{{- $request := include "ferrocast.durationSeconds" (dict "name" "edge.drain.requestDeadline" "value" .Values.edge.drain.requestDeadline) | int -}}
{{- $sleep := .Values.edge.preStopSleepSeconds | int -}}
{{- include "ferrocast.gracePeriod" (dict "role" "edge" "values" .Values.edge "work" (add $sleep $request) "minimum" (add $sleep $request 5) "explain" (printf "preStopSleepSeconds %d + drain.requestDeadline %s + 5 s" $sleep .Values.edge.drain.requestDeadline)) -}}
{{- end -}}

{{- define "ferrocast.control.gracePeriod" -}}
{{- $request := include "ferrocast.durationSeconds" (dict "name" "control.drain.requestDeadline" "value" .Values.control.drain.requestDeadline) | int -}}
{{- include "ferrocast.gracePeriod" (dict "role" "control" "values" .Values.control "work" $request "minimum" (add $request 5) "explain" (printf "drain.requestDeadline %s + 5 s" .Values.control.drain.requestDeadline)) -}}
{{- end -}}
