{{/*
Labels of a graceline object: pass a dict with "root" (the top context) and
"name" (graceline-agent or graceline-collector; empty for shared objects).
The last two lines are Helm's own and are not put on pod templates.
*/}}
{{- define "graceline.labels" -}}
{{- with .name }}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/component: {{ trimPrefix "graceline-" . }}
{{- end }}
app.kubernetes.io/part-of: graceline
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Labels of a pod template: the same, less Helm's. */}}
{{- define "graceline.podLabels" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/component: {{ trimPrefix "graceline-" . }}
app.kubernetes.io/part-of: graceline
{{- end }}

{{/* An image reference; the tag defaults to the chart's appVersion. */}}
{{- define "graceline.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{/* The chosen runtime's socket directory and file. */}}
{{- define "graceline.runtime" -}}
{{- $r := get .Values.runtimes .Values.runtime -}}
{{- if not $r }}{{ fail (printf "runtime %q: want one of %s" .Values.runtime (keys .Values.runtimes | sortAlpha | join ", ")) }}{{ end -}}
{{- toYaml $r -}}
{{- end }}

{{/*
A NetworkPolicy's list of namespaces: the release's own, then "names"
(a values list) without it, as YAML list items.
*/}}
{{- define "graceline.namespaces" -}}
- {{ .root.Release.Namespace }}
{{- range without .names .root.Release.Namespace }}
- {{ . }}
{{- end }}
{{- end }}
