{{/*
Chart name, truncated to the 63 characters Kubernetes allows in names.
*/}}
{{- define "gomirror.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, unless the release name already
contains the chart name.
*/}}
{{- define "gomirror.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gomirror.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gomirror.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gomirror.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gomirror.labels" -}}
helm.sh/chart: {{ include "gomirror.chart" . }}
{{ include "gomirror.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The Secret whose keys become environment variables.
*/}}
{{- define "gomirror.envSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-env" (include "gomirror.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The Secret mounted at /etc/gomirror/secret.
*/}}
{{- define "gomirror.filesSecretName" -}}
{{- if .Values.secrets.existingFilesSecret }}
{{- .Values.secrets.existingFilesSecret }}
{{- else }}
{{- printf "%s-files" (include "gomirror.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The gomirror config file: .Values.config without empty strings and nulls
(an empty value means the setting's default).
*/}}
{{- define "gomirror.configYAML" -}}
{{- $cfg := dict }}
{{- range $k, $v := .Values.config }}
{{- if not (or (kindIs "invalid" $v) (and (kindIs "string" $v) (eq $v ""))) }}
{{- $_ := set $cfg $k $v }}
{{- end }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
HTTP or HTTPS, for probes and scraping: gomirror serves HTTPS when
config.tls-cert is set.
*/}}
{{- define "gomirror.scheme" -}}
{{- if index .Values.config "tls-cert" }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/*
The port of config.admin-listen, where gomirror serves the operator
endpoints (/metrics, /upstreams): the container port "metrics". Empty
without admin-listen.
*/}}
{{- define "gomirror.adminPort" -}}
{{- with index .Values.config "admin-listen" }}{{ regexFind "[0-9]+$" (toString .) }}{{ end }}
{{- end }}

{{/*
Whether the operator endpoints are open without a token on admin-listen:
"true" or "". Only with config.admin-auth off: with auto they need an admin
token on every address the chart can scrape (not loopback).
*/}}
{{- define "gomirror.metricsAnonymous" -}}
{{- if eq (toString (index .Values.config "admin-auth")) "off" }}true{{ end }}
{{- end }}

{{/*
The Secret holding the admin token that the ServiceMonitor sends.
*/}}
{{- define "gomirror.metricsTokenSecretName" -}}
{{- if .Values.metrics.adminToken.existingSecret }}
{{- .Values.metrics.adminToken.existingSecret }}
{{- else }}
{{- printf "%s-metrics-token" (include "gomirror.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Fails the rendering when config.auth or config.admin-auth is a YAML boolean
(a bare off), and when the chart's scraping cannot work: scraping without
admin-listen or with admin-listen on loopback (Prometheus cannot reach it),
a ServiceMonitor without an admin token where one is needed, a
NetworkPolicy that would let everyone reach the metrics port.
*/}}
{{- define "gomirror.checkMetrics" -}}
{{- range $k := list "auth" "admin-auth" }}
{{- if kindIs "bool" (index $.Values.config $k) }}
{{- fail (printf "config.%s is the boolean %v: write \"off\" in quotes (YAML reads a bare off as false)" $k (index $.Values.config $k)) }}
{{- end }}
{{- end }}
{{- $listen := toString (index .Values.config "admin-listen") }}
{{- $scrape := or .Values.metrics.podAnnotations .Values.metrics.serviceMonitor.enabled .Values.metrics.networkPolicy.enabled }}
{{- if and $scrape (not $listen) }}
{{- fail "metrics: config.admin-listen is empty; the chart serves and scrapes the operator endpoints on admin-listen (e.g. 0.0.0.0:3001)" }}
{{- end }}
{{- if and $scrape (regexMatch "^(127\\.|\\[::1\\]:|localhost:)" $listen) }}
{{- fail (printf "metrics: config.admin-listen %s is loopback, which Prometheus cannot reach: use 0.0.0.0:PORT" $listen) }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not (include "gomirror.metricsAnonymous" .)) (not (or .Values.metrics.adminToken.existingSecret .Values.metrics.adminToken.value)) }}
{{- fail "metrics.serviceMonitor: the operator endpoints need an admin token (config.admin-auth is not off): set metrics.adminToken.existingSecret or metrics.adminToken.value (gomirror token add prometheus --role admin), or set config.admin-auth: off with metrics.networkPolicy" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not (include "gomirror.metricsAnonymous" .)) (not (index .Values.config "tokens-file")) }}
{{- fail "metrics.serviceMonitor: admin tokens live in the tokens file, but config.tokens-file is empty (set it to /etc/gomirror/secret/tokens.json and give secrets.tokensFile)" }}
{{- end }}
{{- if and .Values.metrics.networkPolicy.enabled (not .Values.metrics.networkPolicy.from) }}
{{- fail "metrics.networkPolicy.from is empty: name who may reach the metrics port (an empty list would allow everyone)" }}
{{- end }}
{{- end }}
