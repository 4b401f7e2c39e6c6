{{/* Names and labels of the jobs API (api.enabled); component "api", so the operator's selectors never match it. */}}

{{- define "safesynth.apiName" -}}
{{- printf "%s-api" (include "safesynth.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "safesynth.apiSelectorLabels" -}}
app.kubernetes.io/name: {{ include "safesynth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "safesynth.apiLabels" -}}
helm.sh/chart: {{ include "safesynth.chart" . }}
{{ include "safesynth.apiSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: safesynth
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "safesynth.apiServiceAccountName" -}}
{{- if .Values.api.serviceAccount.create -}}
{{- default (include "safesynth.apiName" .) .Values.api.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.api.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* api.image, or the worker image when api.image.repository is empty. */}}
{{- define "safesynth.apiImage" -}}
{{- if .Values.api.image.repository -}}
{{- include "safesynth.image" (dict "image" .Values.api.image "root" .) -}}
{{- else -}}
{{- include "safesynth.image" (dict "image" .Values.workerImage "root" .) -}}
{{- end -}}
{{- end -}}
