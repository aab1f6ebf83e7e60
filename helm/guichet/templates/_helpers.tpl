{{/* Names */}}
{{- define "guichet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "guichet.fullname" -}}
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

{{/* <fullname>-<component>: call with (list $ "component") */}}
{{- define "guichet.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "guichet.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "guichet.serviceAccountName" -}}
{{- default (include "guichet.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Labels: call with (list $ "component") */}}
{{- define "guichet.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "guichet.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "guichet.labels" -}}
{{- $root := index . 0 -}}
{{ include "guichet.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: guichet
{{- end -}}

{{/* Image of a guichet target: call with (list $ "functions"|"answer-worker"|"index-worker") */}}
{{- define "guichet.image" -}}
{{- $root := index . 0 -}}
{{- $img := $root.Values.image -}}
{{- $ref := printf "%s-%s:%s" $img.repository (index . 1) (default $root.Chart.AppVersion $img.tag) -}}
{{- /* Three targets, three images, three digests: image.digests.<functions|answerWorker|indexWorker>. */ -}}
{{- $digests := dict "functions" $img.digests.functions "answer-worker" $img.digests.answerWorker "index-worker" $img.digests.indexWorker -}}
{{- $digest := get $digests (index . 1) -}}
{{- if $digest -}}{{- $ref = printf "%s@%s" $ref $digest -}}{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* Pod and container security: non-root, read-only root, no privilege, no capability. */}}
{{- define "guichet.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "guichet.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The LLM base URL the answer workers use. */}}
{{- define "guichet.llmUrl" -}}
{{- if eq .Values.vllm.mode "deployment" -}}
{{- printf "http://%s:8000/v1" (include "guichet.componentName" (list . "vllm")) -}}
{{- else if eq .Values.vllm.mode "sidecar" -}}
http://127.0.0.1:8000/v1
{{- else -}}
{{- required "vllm.external.url is required with vllm.mode=external" .Values.vllm.external.url -}}
{{- end -}}
{{- end -}}

{{/* Credentials, always from existing Secrets (never from values in clear). */}}
{{- define "guichet.secretEnv" -}}
- name: GUICHET_BROKER_URL
  valueFrom:
    secretKeyRef: {name: {{ required "broker.existingSecret is required" .Values.broker.existingSecret | quote }}, key: {{ .Values.broker.urlKey | quote }}}
- name: GUICHET_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ required "objectStore.existingSecret is required" .Values.objectStore.existingSecret | quote }}, key: {{ .Values.objectStore.accessKeyKey | quote }}}
- name: GUICHET_S3_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.objectStore.existingSecret | quote }}, key: {{ .Values.objectStore.secretKeyKey | quote }}}
{{- if .Values.index.existingSecret }}
- name: GUICHET_WEAVIATE_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.index.existingSecret | quote }}, key: {{ .Values.index.apiKeyKey | quote }}}
{{- end }}
{{- with .Values.config.embedApiKeySecret }}
- name: GUICHET_EMBED_API_KEY  # every guichet process embeds (queries or passages)
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.config.embedApiKeyKey | quote }}}
{{- end }}
{{- with .Values.config.rerankApiKeySecret }}
- name: GUICHET_RERANK_API_KEY  # every process that searches (answer workers, the functions' search)
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.config.rerankApiKeyKey | quote }}}
{{- end }}
{{- if include "guichet.caBundleSource" . }}
- {name: AWS_CA_BUNDLE, value: /etc/guichet/ca/ca.crt}  # boto3: the object store's private CA
{{- end }}
{{- end -}}

{{/* The answer workers' key of an external OpenAI-compatible server (Albert API...). */}}
{{- define "guichet.llmSecretEnv" -}}
{{- if and (eq .Values.vllm.mode "external") .Values.vllm.external.apiKeySecret }}
- name: GUICHET_LLM_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.vllm.external.apiKeySecret | quote }}, key: {{ .Values.vllm.external.apiKeyKey | quote }}}
{{- end }}
{{- end -}}

{{/* The object store's CA bundle, as a volume source ("" when none is set). */}}
{{- define "guichet.caBundleSource" -}}
{{- $ca := .Values.objectStore.caBundle -}}
{{- if $ca.configMap -}}
configMap: {name: {{ $ca.configMap | quote }}, items: [{key: {{ $ca.key | quote }}, path: ca.crt}]}
{{- else if $ca.secret -}}
secret: {secretName: {{ $ca.secret | quote }}, items: [{key: {{ $ca.key | quote }}, path: ca.crt}]}
{{- end -}}
{{- end -}}

{{/* Everything a guichet container needs: settings ConfigMap + credentials + /tmp. */}}
{{- define "guichet.envFrom" -}}
- configMapRef:
    name: {{ include "guichet.componentName" (list . "config") }}
{{- end -}}

{{- define "guichet.tmpVolume" -}}
- name: tmp
  emptyDir: {sizeLimit: 1Gi}
{{- with include "guichet.caBundleSource" . }}
- name: ca-bundle
  {{- . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "guichet.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- if include "guichet.caBundleSource" . }}
- {name: ca-bundle, mountPath: /etc/guichet/ca, readOnly: true}
{{- end }}
{{- end -}}

{{/* Pod placement: call with a component's values. */}}
{{- define "guichet.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Common pod spec head. */}}
{{- define "guichet.podCommon" -}}
serviceAccountName: {{ include "guichet.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- include "guichet.podSecurityContext" . | nindent 2 }}
{{- include "guichet.imagePullSecrets" . }}
{{- end -}}

{{- define "guichet.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Worker probes on the Prometheus endpoint (the worker has no HTTP API). */}}
{{- define "guichet.workerProbes" -}}
startupProbe:
  httpGet: {path: /metrics, port: metrics}
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /metrics, port: metrics}
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  tcpSocket: {port: metrics}
  periodSeconds: 10
{{- end -}}

{{/* KEDA RabbitMQ trigger: call with (list $ queueName queueLength) */}}
{{- define "guichet.rabbitmqTrigger" -}}
{{- $root := index . 0 -}}
- type: rabbitmq
  metadata:
    protocol: http
    mode: QueueLength
    value: {{ index . 2 | toString | quote }}
    queueName: {{ index . 1 | quote }}
    vhostName: {{ $root.Values.broker.vhost | quote }}
  authenticationRef:
    name: {{ include "guichet.componentName" (list $root "rabbitmq") }}
{{- end -}}

{{/* A guichet worker container: call with (list $ "answer-worker"|"index-worker" args resources) */}}
{{- define "guichet.workerContainer" -}}
{{- $root := index . 0 -}}
name: {{ index . 1 }}
image: {{ include "guichet.image" (list $root (index . 1)) }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
args: {{ index . 2 | toJson }}
ports:
  - {name: metrics, containerPort: {{ $root.Values.config.metricsPort }}, protocol: TCP}
envFrom:
  {{- include "guichet.envFrom" $root | nindent 2 }}
env:
  {{- include "guichet.secretEnv" $root | nindent 2 }}
  {{- if eq (index . 1) "answer-worker" }}
  {{- include "guichet.llmSecretEnv" $root | nindent 2 }}
  {{- end }}
{{ include "guichet.workerProbes" $root }}
resources:
  {{- toYaml (index . 3) | nindent 2 }}
securityContext:
  {{- include "guichet.containerSecurityContext" $root | nindent 2 }}
volumeMounts:
  {{- include "guichet.tmpMount" $root | nindent 2 }}
{{- end -}}

{{/* KEDA ScaledObject + PDB of a worker: call with (list $ component values queueName) */}}
{{- define "guichet.workerScaling" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $w := index . 2 -}}
{{- $name := include "guichet.componentName" (list $root $component) -}}
{{- if $w.keda.enabled }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $name }}
  labels:
    {{- include "guichet.labels" (list $root $component) | nindent 4 }}
spec:
  scaleTargetRef: {name: {{ $name }}}
  minReplicaCount: {{ $w.keda.minReplicaCount }}
  maxReplicaCount: {{ $w.keda.maxReplicaCount }}
  pollingInterval: {{ $w.keda.pollingInterval }}
  cooldownPeriod: {{ $w.keda.cooldownPeriod }}  # KEDA uses it only to scale to zero
  {{- include "guichet.kedaBehavior" $w.keda | nindent 2 }}
  triggers:
    {{- include "guichet.rabbitmqTrigger" (list $root (index . 3) $w.keda.queueLength) | nindent 4 }}
{{- end }}
{{- if $w.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "guichet.labels" (list $root $component) | nindent 4 }}
spec:
  maxUnavailable: {{ $w.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "guichet.selectorLabels" (list $root $component) | nindent 6 }}
{{- end }}
{{- end -}}

{{- /* A maintenance CronJob: (list $ component args values extraEnv); values has schedule and resources. */ -}}
{{- define "guichet.cronJob" -}}
{{- $ := index . 0 -}}{{- $component := index . 1 -}}{{- $args := index . 2 -}}
{{- $v := index . 3 -}}{{- $extraEnv := index . 4 }}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "guichet.componentName" (list $ $component) }}
  labels:
    {{- include "guichet.labels" (list $ $component) | nindent 4 }}
spec:
  schedule: {{ $v.schedule | quote }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: 1
      template:
        metadata:
          labels:
            {{- include "guichet.labels" (list $ $component) | nindent 12 }}
        spec:
          {{- include "guichet.podCommon" $ | nindent 10 }}
          restartPolicy: Never
          containers:
            - name: {{ $component }}
              image: {{ include "guichet.image" (list $ "index-worker") }}
              imagePullPolicy: {{ $.Values.image.pullPolicy }}
              args: {{ toJson $args }}
              envFrom:
                {{- include "guichet.envFrom" $ | nindent 16 }}
              env:
                {{- include "guichet.secretEnv" $ | nindent 16 }}
                {{- with $extraEnv }}
                {{- toYaml . | nindent 16 }}
                {{- end }}
              resources:
                {{- toYaml $v.resources | nindent 16 }}
              securityContext:
                {{- include "guichet.containerSecurityContext" $ | nindent 16 }}
              volumeMounts:
                {{- include "guichet.tmpMount" $ | nindent 16 }}
          volumes:
            {{- include "guichet.tmpVolume" $ | nindent 12 }}
          {{- include "guichet.placement" $.Values.indexWorker | nindent 10 }}
{{- end }}

{{/* Scale-down window of the HPA a ScaledObject drives (cooldownPeriod only applies to scale to zero). */}}
{{- define "guichet.kedaBehavior" -}}
advanced:
  horizontalPodAutoscalerConfig:
    behavior:
      scaleDown:
        stabilizationWindowSeconds: {{ .scaleDownStabilizationSeconds }}
{{- end -}}
