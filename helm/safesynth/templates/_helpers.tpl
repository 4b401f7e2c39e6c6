{{/* Names, labels and images shared by every template. */}}

{{- define "safesynth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-safesynth, or the release name when it already contains the chart name. */}}
{{- define "safesynth.fullname" -}}
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

{{- define "safesynth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "safesynth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "safesynth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "safesynth.labels" -}}
helm.sh/chart: {{ include "safesynth.chart" . }}
{{ include "safesynth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: safesynth
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "safesynth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "safesynth.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "safesynth.configMapName" -}}
{{- printf "%s-config" (include "safesynth.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* repository:tag or repository@digest; call with (dict "image" .Values.image "root" .). */}}
{{- define "safesynth.image" -}}
{{- $img := .image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .root.Chart.AppVersion $img.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets accept names or {name: ...} objects; this yields the names. */}}
{{- define "safesynth.pullSecretNames" -}}
{{- $names := list -}}
{{- range .Values.imagePullSecrets -}}
{{- if kindIs "map" . -}}
{{- $names = append $names .name -}}
{{- else -}}
{{- $names = append $names . -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* The port the operator serves metrics on; 0 turns metrics off. */}}
{{- define "safesynth.metricsPort" -}}
{{- if .Values.metrics.enabled -}}{{ int .Values.metrics.port }}{{- else -}}0{{- end -}}
{{- end -}}

{{/*
The RBAC rules, from files/rbac.yaml (a copy of operator/safesynth_operator/rbac.yaml,
generated from rbac.py; tests/helm fail when the copy differs). Call with
(dict "root" . "scope" "all"|"namespaced"|"cluster"): every rule, the rules a
namespaced Role can hold, or the read-only cluster-scoped ones.
*/}}
{{- define "safesynth.rbacRules" -}}
{{- $clusterScoped := list "customresourcedefinitions" "namespaces" -}}
{{- $all := (.root.Files.Get "files/rbac.yaml" | fromYaml).rules -}}
{{- if not $all -}}
{{- fail "files/rbac.yaml yields no RBAC rules: is it missing from the chart package?" -}}
{{- end -}}
{{- $rules := list -}}
{{- range $all -}}
{{- $isCluster := false -}}
{{- range .resources -}}
{{- if has . $clusterScoped -}}{{- $isCluster = true -}}{{- end -}}
{{- end -}}
{{- if or (eq $.scope "all") (and (eq $.scope "cluster") $isCluster) (and (eq $.scope "namespaced") (not $isCluster)) -}}
{{- $rules = append $rules . -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}
