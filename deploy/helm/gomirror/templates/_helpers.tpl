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
