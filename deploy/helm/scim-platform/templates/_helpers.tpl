{{- define "scim.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scim.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "scim.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "scim.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "scim.commonEnv" -}}
- name: RUST_LOG
  value: {{ .Values.log.level | quote }}
- name: LOG_FORMAT
  value: {{ .Values.log.format | quote }}
{{- if .Values.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otlpEndpoint | quote }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
# service.name is each binary's own (gateway, identity, policy).
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME){{ with .Values.tracing.resourceAttributes }},{{ . }}{{ end }}"
{{- with .Values.tracing.sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.tracing.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
# Headers for the collector (an API key, say): a secret, never a value.
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.name }}
      key: OTEL_EXPORTER_OTLP_HEADERS
      optional: true
{{- end }}
{{- end -}}

{{- define "scim.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The Secret with ca.crt, tls.crt and tls.key of a component's gRPC certificate. */}}
{{- define "scim.grpcTlsSecret" -}}
{{- $r := .root -}}
{{- if eq $r.Values.grpcTls.mode "existing" -}}
{{- required (printf "grpcTls.existingSecrets.%s is required with grpcTls.mode=existing" .component) (index $r.Values.grpcTls.existingSecrets .component) -}}
{{- else -}}
{{ include "scim.fullname" $r }}-{{ .component }}-grpc-tls
{{- end -}}
{{- end -}}

{{/* The DNS names of a gRPC server's certificate: its role and its Service. */}}
{{- define "scim.grpcDnsNames" -}}
{{- $svc := printf "%s-%s" (include "scim.fullname" .root) .component -}}
{{- $ns := .root.Release.Namespace -}}
{{- list .component $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson -}}
{{- end -}}

{{- define "scim.grpcTlsEnv" -}}
- name: GRPC_TLS_CA
  value: /etc/scim/grpc-tls/ca.crt
- name: GRPC_TLS_CERT
  value: /etc/scim/grpc-tls/tls.crt
- name: GRPC_TLS_KEY
  value: /etc/scim/grpc-tls/tls.key
{{- end -}}

{{/* Who may call identity and policy, beyond the defaults. */}}
{{- define "scim.grpcAccessEnv" -}}
{{- with .Values.grpcTls.clients }}
- name: GRPC_CLIENTS
  value: {{ . | quote }}
{{- end }}
{{- with .Values.grpcTls.grants }}
- name: GRPC_GRANTS
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "scim.grpcTlsMount" -}}
- name: grpc-tls
  mountPath: /etc/scim/grpc-tls
  readOnly: true
{{- end -}}

{{- define "scim.grpcTlsVolume" -}}
- name: grpc-tls
  secret:
    secretName: {{ include "scim.grpcTlsSecret" . }}
    defaultMode: 0440
{{- end -}}
