{{/* Names, labels and the pieces every component shares. */}}

{{- define "poiesis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "poiesis.fullname" -}}
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

{{/* The recommended labels; call with (dict "ctx" $ "component" "api"). */}}
{{- define "poiesis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{ include "poiesis.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: poiesis
{{- end }}

{{- define "poiesis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "poiesis.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "poiesis.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "poiesis.dbSecret" -}}
{{- default (printf "%s-db" (include "poiesis.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{- define "poiesis.dbSecretKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}url{{ end }}
{{- end }}

{{/* The task Pods' database credential (docs/security.md): never the API's. */}}
{{- define "poiesis.taskDbSecret" -}}
{{- default (printf "%s-task-db" (include "poiesis.fullname" .)) .Values.database.taskExistingSecret }}
{{- end }}

{{- define "poiesis.taskDbSecretKey" -}}
{{- if .Values.database.taskExistingSecret }}{{ .Values.database.taskExistingSecretKey }}{{ else }}url{{ end }}
{{- end }}

{{- define "poiesis.storageSecret" -}}
{{- if .Values.storage.existingSecret }}{{ .Values.storage.existingSecret }}
{{- else if .Values.storage.env }}{{ printf "%s-storage" (include "poiesis.fullname" .) }}
{{- end }}
{{- end }}

{{- define "poiesis.serviceAccount" -}}
{{- printf "%s-%s" (include "poiesis.fullname" .ctx) .component }}
{{- end }}

{{/* The environment of the API and TCtl: the database, the task Pods' settings, then env passthrough. */}}
{{- define "poiesis.env" -}}
- name: POIESIS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "poiesis.dbSecret" . }}
      key: {{ include "poiesis.dbSecretKey" . }}
- name: POIESIS_LOG_FORMAT
  value: json
- name: POIESIS_KUBE_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POIESIS_KUBE_IMAGE
  value: {{ include "poiesis.image" . | quote }}
- name: POIESIS_KUBE_IMAGE_PULL_POLICY
  value: {{ default .Values.image.pullPolicy .Values.tasks.imagePullPolicy | quote }}
- name: POIESIS_KUBE_EXECUTOR_IMAGE_PULL_POLICY
  value: {{ .Values.tasks.executorImagePullPolicy | quote }}
- name: POIESIS_KUBE_SERVICE_ACCOUNT
  value: {{ include "poiesis.serviceAccount" (dict "ctx" . "component" "trec") | quote }}
- name: POIESIS_KUBE_DATABASE_SECRET
  value: {{ include "poiesis.taskDbSecret" . | quote }}
- name: POIESIS_KUBE_DATABASE_SECRET_KEY
  value: {{ include "poiesis.taskDbSecretKey" . | quote }}
{{- with (include "poiesis.storageSecret" .) }}
- name: POIESIS_KUBE_FILER_ENV_SECRET
  value: {{ . | quote }}
{{- end }}
- name: POIESIS_KUBE_TRANSFER_VOLUME
  value: {{ .Values.tasks.transferVolume | quote }}
{{- with .Values.tasks.storageClass }}
- name: POIESIS_KUBE_STORAGE_CLASS
  value: {{ . | quote }}
{{- end }}
- name: POIESIS_KUBE_DEFAULT_DISK_GB
  value: {{ .Values.tasks.defaultDiskGb | quote }}
- name: POIESIS_KUBE_EXECUTOR_AS_ROOT
  value: {{ .Values.tasks.executorsAsRoot | quote }}
- name: POIESIS_KUBE_LABELS
  value: {{ dict "app.kubernetes.io/instance" .Release.Name | toJson | quote }}
{{- with .Values.tasks.nodeSelector }}
- name: POIESIS_KUBE_NODE_SELECTOR
  value: {{ toJson . | quote }}
{{- end }}
{{- with .Values.tasks.tolerations }}
- name: POIESIS_KUBE_TOLERATIONS
  value: {{ toJson . | quote }}
{{- end }}
{{- with .Values.tasks.allowedPriorityClasses }}
- name: POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.tasks.allowedRuntimeClasses }}
- name: POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.tasks.allowedNodeSelectors }}
- name: POIESIS_KUBE_ALLOWED_NODE_SELECTORS
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.tasks.maxSeconds }}
- name: POIESIS_MAX_TASK_SECONDS
  value: {{ int64 . | toString | quote }}
{{- end }}
{{- with .Values.tasks.gpu.max }}
- name: POIESIS_KUBE_MAX_GPUS
  value: {{ int64 . | toString | quote }}
{{- end }}
{{- with .Values.tasks.gpu.resource }}
- name: POIESIS_KUBE_GPU_RESOURCE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.tasks.gpu.types }}
- name: POIESIS_KUBE_GPU_TYPES
  value: {{ toJson . | quote }}
{{- end }}
{{- with .Values.tasks.gpu.tolerations }}
- name: POIESIS_KUBE_GPU_TOLERATIONS
  value: {{ toJson . | quote }}
{{- end }}
- name: POIESIS_KUBE_LEASE_NAME
  value: {{ default (printf "%s-tctl" (include "poiesis.fullname" .)) .Values.tctl.leaseName | quote }}
{{- range $key, $value := .Values.env }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{- define "poiesis.metricsAnnotations" -}}
{{- if .ctx.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}
