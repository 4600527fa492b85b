{{/*
Most templates range over .Values.services and pass each service on as a
context dict: {"root": $, "name": <service>, "svc": <its values>}.
*/}}

{{- define "feedloop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's prefix; a release named after the chart is not doubled. */}}
{{- define "feedloop.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* One service's object names: <fullname>-<service>. */}}
{{- define "feedloop.componentName" -}}
{{- printf "%s-%s" (include "feedloop.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "feedloop.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of the chart's objects that belong to no one service. */}}
{{- define "feedloop.commonLabels" -}}
helm.sh/chart: {{ include "feedloop.chart" . }}
app.kubernetes.io/name: {{ include "feedloop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: feedloop
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one service's objects (context dict). */}}
{{- define "feedloop.labels" -}}
{{ include "feedloop.commonLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/*
Selector labels: immutable on a Deployment once created, so only the three
that never change between releases.
*/}}
{{- define "feedloop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "feedloop.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "feedloop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "feedloop.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image of a service: a digest pins it, else the tag, else appVersion. */}}
{{- define "feedloop.image" -}}
{{- $img := .svc.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (toString (coalesce $img.tag .root.Values.image.tag .root.Chart.AppVersion)) -}}
{{- end -}}
{{- end -}}

{{/*
The durable JetStream consumers each service reads (pkg/bus, the services'
internal/pipeline and internal/deliver packages; deploy/helm_test.go checks
the names against the code). KEDA scales a service on their lag. Left out:
the erasure consumers (a trickle) and alerting's per-receiver delivery
consumers, whose backlog is held back on purpose by each receiver's rate
limit, so more replicas would not drain it any sooner.
*/}}
{{- define "feedloop.consumers" -}}
intake: []
scoring:
  - {stream: FEEDBACK, consumer: scoring}
segmentation:
  - {stream: SCORED, consumer: segmentation}
  - {stream: FEEDBACK, consumer: segmentation-activity}
alerting:
  - {stream: CUSTOMERS, consumer: alerting}
  - {stream: RECOVERY, consumer: alerting-dispatch}
{{- end -}}

{{/*
The files a service can take from values instead of its built-in defaults:
the values key under services.<name>.files, the file name in the
ConfigMap, and the variable that points the service at it.
*/}}
{{- define "feedloop.fileSpecs" -}}
segmentation:
  - {value: tiers, file: tiers.yaml, env: FEEDLOOP_SEGMENTATION_TIERS}
  - {value: config, file: config.yaml, env: FEEDLOOP_SEGMENTATION_CONFIG}
alerting:
  - {value: rules, file: rules.yaml, env: FEEDLOOP_ALERTING_RULES}
  - {value: routes, file: routes.yaml, env: FEEDLOOP_ALERTING_ROUTES}
{{- end -}}

{{/* The ConfigMap data of a service (context dict): only the files given. */}}
{{- define "feedloop.configData" -}}
{{- $specs := index (fromYaml (include "feedloop.fileSpecs" .)) .name | default list -}}
{{- $files := .svc.files | default dict -}}
{{- $data := dict -}}
{{- range $spec := $specs -}}
{{- with index $files $spec.value -}}
{{- $_ := set $data $spec.file . -}}
{{- end -}}
{{- end -}}
{{- /* The newline keeps the last line's own newline through fromYaml. */ -}}
{{- printf "%s\n" (toYaml $data) -}}
{{- end -}}

{{- define "feedloop.configMountPath" -}}/etc/feedloop/config{{- end -}}

{{/* The port of the OTLP endpoint, for the egress rule: explicit, else by scheme. */}}
{{- define "feedloop.otlpPort" -}}
{{- $u := urlParse .Values.otel.endpoint -}}
{{- $hostport := $u.host | default .Values.otel.endpoint -}}
{{- $parts := splitList ":" $hostport -}}
{{- if gt (len $parts) 1 -}}
{{- last $parts -}}
{{- else if eq $u.scheme "https" -}}
443
{{- else -}}
4317
{{- end -}}
{{- end -}}

{{/* Settings that would deploy something broken fail the render instead. */}}
{{- define "feedloop.validate" -}}
{{- $v := .Values -}}
{{- if not (has $v.autoscaling.mode (list "none" "hpa" "keda")) -}}
{{- fail (printf "autoscaling.mode must be none, hpa or keda, got %q" $v.autoscaling.mode) -}}
{{- end -}}
{{- if not $v.apiKeys.existingSecret -}}
{{- fail "apiKeys.existingSecret must name a Secret holding the API key file (see docs/kubernetes.md)" -}}
{{- end -}}
{{- $s := $v.shutdown -}}
{{- if le (int $s.terminationGracePeriodSeconds) (add $s.preStopSeconds $s.graceSeconds | int) -}}
{{- fail (printf "shutdown.terminationGracePeriodSeconds (%v) must exceed preStopSeconds + graceSeconds (%v): the consumers and NATS still drain after the gRPC grace" $s.terminationGracePeriodSeconds (add $s.preStopSeconds $s.graceSeconds)) -}}
{{- end -}}
{{- range $name, $svc := $v.services -}}
{{- if $svc.enabled -}}
{{- if and $svc.pdb.minAvailable $svc.pdb.maxUnavailable -}}
{{- fail (printf "services.%s.pdb: set minAvailable or maxUnavailable, not both" $name) -}}
{{- end -}}
{{- if and (eq $v.autoscaling.mode "none") $svc.pdb.minAvailable (not (kindIs "string" $svc.pdb.minAvailable)) (ge (int $svc.pdb.minAvailable) (int $svc.replicas)) -}}
{{- fail (printf "services.%s.pdb.minAvailable (%v) must be below replicas (%v), or no node could ever be drained" $name $svc.pdb.minAvailable $svc.replicas) -}}
{{- end -}}
{{- if ne $v.autoscaling.mode "none" -}}
{{- $a := $svc.autoscaling -}}
{{- if lt (int $a.minReplicas) 1 -}}
{{- fail (printf "services.%s.autoscaling.minReplicas must be at least 1: every service answers gRPC and runs periodic work" $name) -}}
{{- end -}}
{{- if lt (int $a.maxReplicas) (int $a.minReplicas) -}}
{{- fail (printf "services.%s.autoscaling.maxReplicas must be at least minReplicas" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
GOMEMLIMIT for a memory limit in Mi or Gi: nine tenths of it, in MiB.
*/}}
{{- define "feedloop.goMemLimit" -}}
{{- $q := toString . -}}
{{- if regexMatch "^[0-9]+Mi$" $q -}}
{{- div (mul (trimSuffix "Mi" $q | atoi) 9) 10 }}MiB
{{- else if regexMatch "^[0-9]+Gi$" $q -}}
{{- div (mul (trimSuffix "Gi" $q | atoi) 9216) 10 }}MiB
{{- else -}}
{{- fail (printf "resources.limits.memory %q: give it in Mi or Gi (GOMEMLIMIT is set from it)" $q) -}}
{{- end -}}
{{- end }}
