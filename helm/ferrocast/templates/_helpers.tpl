{{/*
Names, labels and small rendering helpers shared by every template.
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "ferrocast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Release-wide name prefix. Kept to 45 characters so "<fullname>-<role>-metrics" and the
other suffixed names stay within the 63 characters of a DNS label.
*/}}
{{- define "ferrocast.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ferrocast.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "ferrocast.labels" -}}
helm.sh/chart: {{ include "ferrocast.chart" . }}
app.kubernetes.io/name: {{ include "ferrocast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ferrocast
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one role's objects. Call with (dict "root" $ "role" "origin"). */}}
{{- define "ferrocast.roleLabels" -}}
{{ include "ferrocast.labels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{/* Selector of one role's pods (never changes between upgrades). */}}
{{- define "ferrocast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ferrocast.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "ferrocast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ferrocast.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The ferrocast image: digest wins over tag; the tag defaults to the chart's appVersion. */}}
{{- define "ferrocast.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret this chart creates (cluster secret, admin token, Redis URL, S3 keys, unless existing ones are named). */}}
{{- define "ferrocast.secretName" -}}
{{- include "ferrocast.fullname" . -}}
{{- end -}}

{{/* Service names other components dial. */}}
{{- define "ferrocast.controlGrpcService" -}}
{{- printf "%s-control-grpc" (include "ferrocast.fullname" .) -}}
{{- end -}}
{{- define "ferrocast.redisService" -}}
{{- printf "%s-redis" (include "ferrocast.fullname" .) -}}
{{- end -}}

{{/* control_url of origins and edges: control's gRPC Service inside the cluster. */}}
{{- define "ferrocast.controlUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "ferrocast.controlGrpcService" .) .Release.Namespace (int .Values.control.service.grpc.port) -}}
{{- end -}}

{{/*
A scalar as the binary reads it. Helm reads numbers in values files as float64, which would
print 67108864 as 6.7108864e+07; whole numbers are printed as integers.
*/}}
{{- define "ferrocast.scalar" -}}
{{- if kindIs "float64" . -}}
{{- if eq . (floor .) -}}{{- int64 . -}}{{- else -}}{{- . -}}{{- end -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/*
Whole seconds (rounded up) of a duration in the binary's humantime format: whole numbers
with a unit, several parts allowed ("30s", "1m30s", "1m 30s", "500ms", "2 hours"). Units:
ms/msec, s/sec/secs/second(s), m/min/mins/minute(s), h/hr/hrs/hour(s), d/day(s). Anything
else fails rendering.
Call with (dict "name" "origin.drain.publishDeadline" "value" .Values.origin.drain.publishDeadline).
*/}}
{{- define "ferrocast.durationSeconds" -}}
{{- $text := toString .value | trim -}}
{{- $unit := "(msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d)" -}}
{{- if not (regexMatch (printf "^([0-9]+ *%s *)+$" $unit) $text) -}}
{{- fail (printf "%s: %q is not a duration this chart can read; write whole numbers with a unit, e.g. 30s, 1m30s or 500ms" .name $text) -}}
{{- end -}}
{{- $factors := dict "ms" 1 "msec" 1 "s" 1000 "sec" 1000 "secs" 1000 "second" 1000 "seconds" 1000 "m" 60000 "min" 60000 "mins" 60000 "minute" 60000 "minutes" 60000 "h" 3600000 "hr" 3600000 "hrs" 3600000 "hour" 3600000 "hours" 3600000 "d" 86400000 "day" 86400000 "days" 86400000 -}}
{{- $millis := 0 -}}
{{- range regexFindAll (printf "[0-9]+ *%s" $unit) $text -1 -}}
{{- $number := regexFind "^[0-9]+" . -}}
{{- $name := trimPrefix $number . | trim -}}
{{- $millis = add $millis (mul (int64 $number) (get $factors $name)) -}}
{{- end -}}
{{- div (add $millis 999) 1000 -}}
{{- end -}}

{{/*
The FERROCAST_* variables of a role's ConfigMap from a dict of configuration keys
("origin.hls.retain" -> FERROCAST_ORIGIN__HLS__RETAIN), merged with the role's extraConfig (which wins).
Secrets are refused here: they only travel through Secrets.
Call with (dict "config" $config "extra" .Values.origin.extraConfig "role" "origin").
*/}}
{{- define "ferrocast.configEnv" -}}
{{- $config := deepCopy .config -}}
{{- $role := .role -}}
{{- range $key, $value := .extra -}}
{{- if not (regexMatch "^[a-z0-9_]+(\\.[a-z0-9_]+)*$" $key) -}}
{{- fail (printf "%s.extraConfig: %q is not a configuration key (lower case, dots between levels, e.g. edge.viewers.max_lag)" $role $key) -}}
{{- end -}}
{{- if has $key (list "cluster_secret" "redis_url" "control.admin_token" "s3.access_key_id" "s3.secret_access_key") -}}
{{- fail (printf "%s.extraConfig.%s holds a secret: use the chart's Secret values (or an existingSecret) instead of a ConfigMap" $role $key) -}}
{{- end -}}
{{- $_ := set $config $key $value -}}
{{- end -}}
{{- range $key, $value := $config }}
{{- printf "FERROCAST_%s" ($key | replace "." "__" | upper) }}: {{ include "ferrocast.scalar" $value | quote }}
{{ end -}}
{{- end -}}

{{/* Variables every ferrocast container gets besides its ConfigMap: pod identity and tracing. */}}
{{- define "ferrocast.identityEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- if .root.Values.tracing.otlpEndpoint }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),service.instance.id=$(POD_NAME)%s" (ternary (printf ",%s" .root.Values.tracing.resourceAttributes) "" (ne .root.Values.tracing.resourceAttributes "")) | quote }}
{{- end }}
{{- end -}}

{{/* Non-secret logging and tracing variables of a role's ConfigMap. */}}
{{- define "ferrocast.runtimeEnv" -}}
FERROCAST_LOG_JSON: {{ .root.Values.logging.json | toString | quote }}
RUST_LOG: {{ .root.Values.logging.level | quote }}
{{- with .root.Values.tracing.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
OTEL_SERVICE_NAME: {{ printf "ferrocast-%s" $.role | quote }}
{{- end }}
{{- end -}}

{{/* FERROCAST_CLUSTER_SECRET from a Secret: every role derives its node credential from it. */}}
{{- define "ferrocast.clusterSecretEnv" -}}
- name: FERROCAST_CLUSTER_SECRET
  valueFrom:
    secretKeyRef:
      {{- if .Values.clusterSecret.existingSecret }}
      name: {{ .Values.clusterSecret.existingSecret }}
      key: {{ .Values.clusterSecret.existingSecretKey }}
      {{- else }}
      name: {{ include "ferrocast.secretName" . }}
      key: cluster-secret
      {{- end }}
{{- end -}}

{{/* The pods of this release in the given roles, as a NetworkPolicy peer. Call with (dict "root" $ "roles" (list "origin" "edge")). */}}
{{- define "ferrocast.rolePeer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ include "ferrocast.name" .root }}
      app.kubernetes.io/instance: {{ .root.Release.Name }}
    matchExpressions:
      - key: app.kubernetes.io/component
        operator: In
        values:
          {{- toYaml .roles | nindent 10 }}
{{- end -}}

{{/* FERROCAST_REDIS_URL from a Secret. */}}
{{- define "ferrocast.redisEnv" -}}
- name: FERROCAST_REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if and (not .Values.redis.internal.enabled) .Values.redis.existingSecret }}
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
      {{- else }}
      name: {{ include "ferrocast.secretName" . }}
      key: redis-url
      {{- end }}
{{- end -}}

{{/* S3 credentials from a Secret, or none (the S3 client then asks the instance metadata service). */}}
{{- define "ferrocast.s3Env" -}}
{{- if .Values.s3.existingSecret }}
- name: FERROCAST_S3__ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.existingSecretAccessKeyIdKey }}
- name: FERROCAST_S3__SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.existingSecretSecretAccessKeyKey }}
{{- else if .Values.s3.accessKeyId }}
- name: FERROCAST_S3__ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "ferrocast.secretName" . }}
      key: s3-access-key-id
- name: FERROCAST_S3__SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ferrocast.secretName" . }}
      key: s3-secret-access-key
{{- end }}
{{- end -}}

{{/* The S3 settings origins and edges share, as configuration keys. */}}
{{- define "ferrocast.s3Config" -}}
{{- $s3 := .Values.s3 -}}
{{- toYaml (dict "s3.endpoint" $s3.endpoint "s3.bucket" $s3.bucket "s3.region" $s3.region "s3.path_style" $s3.pathStyle "s3.allow_http" $s3.allowHttp "segment_prefix" $s3.segmentPrefix) -}}
{{- end -}}

{{/* Redis Sentinel settings of every role that reaches Redis; nothing when it is off. */}}
{{- define "ferrocast.sentinelConfig" -}}
{{- $sentinel := .Values.redis.sentinel -}}
{{- if $sentinel.masterName -}}
{{- $nodes := list -}}
{{- range $sentinel.nodes }}{{ $nodes = append $nodes (quote .) }}{{ end -}}
{{- toYaml (dict "redis_sentinel.master_name" $sentinel.masterName "redis_sentinel.nodes" (printf "[%s]" (join ", " $nodes)) "redis_sentinel.min_replicas" $sentinel.minReplicas) -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings every ferrocast pod shares. Call with (dict "root" $ "role" "edge" "values" .Values.edge). */}}
{{- define "ferrocast.podCommon" -}}
serviceAccountName: {{ include "ferrocast.serviceAccountName" .root }}
# ferrocast never talks to the Kubernetes API.
automountServiceAccountToken: false
# Service links would inject variables such as FERROCAST_CONTROL_GRPC_PORT when the release is
# named "ferrocast"; the binary reads every FERROCAST_* variable as configuration and refuses
# unknown keys, so the pods would not start.
enableServiceLinks: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.affinity }}
affinity:
  {{- toYaml .values.affinity | nindent 2 }}
{{- else if .values.podAntiAffinity }}
affinity:
  podAntiAffinity:
    {{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "ferrocast.selectorLabels" . | fromYaml)) }}
    {{- if eq .values.podAntiAffinity "hard" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      {{- toYaml (list $term) | nindent 6 }}
    {{- else if eq .values.podAntiAffinity "soft" }}
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          {{- toYaml $term | nindent 10 }}
    {{- else }}
    {{- fail (printf "%s.podAntiAffinity must be \"soft\", \"hard\" or \"\", not %q" .role .values.podAntiAffinity) }}
    {{- end }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range . }}
  {{- $constraint := deepCopy . }}
  {{- if not (hasKey $constraint "labelSelector") }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "ferrocast.selectorLabels" $ | fromYaml)) }}
  {{- end }}
  {{- toYaml (list $constraint) | nindent 2 }}
  {{- end }}
{{- end }}
volumes:
  # The root filesystem is read-only; /tmp is the only writable place.
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
{{- end -}}

{{/* Container-level settings every ferrocast container shares: image, security, probes, tmp. */}}
{{- define "ferrocast.containerCommon" -}}
image: {{ include "ferrocast.image" .root }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml .values.resources | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- $probes := .root.Values.probes }}
startupProbe:
  httpGet:
    path: /healthz
    port: ops
  {{- toYaml $probes.startup | nindent 2 }}
livenessProbe:
  httpGet:
    path: /healthz
    port: ops
  {{- toYaml $probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: ops
  {{- toYaml $probes.readiness | nindent 2 }}
{{- end -}}

{{/* Pod annotations: config checksum (so a config change rolls the pods) plus the user's. */}}
{{- define "ferrocast.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/" .role "/configmap.yaml") .root | sha256sum }}
{{- $v := .root.Values }}
checksum/secret-values: {{ list $v.clusterSecret.value $v.clusterSecret.existingSecret $v.control.adminToken $v.control.existingSecret $v.redis.url $v.redis.existingSecret $v.redis.internal.enabled $v.s3.accessKeyId $v.s3.secretAccessKey $v.s3.existingSecret | toJson | sha256sum }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
