"""Minimal JSON schemas for the custom resources the chart renders. kubernetes-validate knows only the
built-in kinds; these check the fields guichet relies on, with unknown fields refused where a typo would
silently do nothing (KEDA ignores unknown trigger metadata, for instance)."""

from __future__ import annotations

from typing import Any

OBJECT_META = {
    "type": "object",
    "required": ["name", "labels"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}},
}
NAME_REF = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1}},
}
INT_STRING = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"}


def _resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": OBJECT_META,
            "spec": spec,
        },
    }


RABBITMQ_TRIGGER = {
    "type": "object",
    "required": ["type", "metadata", "authenticationRef"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "rabbitmq"},
        "authenticationRef": NAME_REF,
        "metadata": {
            "type": "object",
            "required": ["protocol", "mode", "value", "queueName", "vhostName"],
            "additionalProperties": False,
            "properties": {
                "protocol": {"enum": ["http", "amqp", "auto"]},
                "mode": {"enum": ["QueueLength", "MessageRate"]},
                "value": INT_STRING,
                "queueName": {"type": "string", "minLength": 1},
                "vhostName": {"type": "string", "minLength": 1},
            },
        },
    },
}
PROMETHEUS_TRIGGER = {
    "type": "object",
    "required": ["type", "metadata"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "prometheus"},
        "metadata": {
            "type": "object",
            "required": ["serverAddress", "query", "threshold"],
            "additionalProperties": False,
            "properties": {
                "serverAddress": {"type": "string", "pattern": "^https?://"},
                "query": {"type": "string", "minLength": 1},
                "threshold": INT_STRING,
            },
        },
    },
}
SCALED_OBJECT = _resource(
    "keda.sh/v1alpha1",
    "ScaledObject",
    {
        "type": "object",
        "required": ["scaleTargetRef", "minReplicaCount", "maxReplicaCount", "triggers"],
        "additionalProperties": False,
        "properties": {
            "scaleTargetRef": NAME_REF,
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            # KEDA's advanced.horizontalPodAutoscalerConfig.behavior: autoscaling/v2's HPA behavior.
            "advanced": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "horizontalPodAutoscalerConfig": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "behavior": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "scaleDown": {
                                        "type": "object",
                                        "properties": {
                                            "stabilizationWindowSeconds": {
                                                "type": "integer",
                                                "minimum": 0,
                                                "maximum": 3600,
                                            }
                                        },
                                    },
                                    "scaleUp": {"type": "object"},
                                },
                            }
                        },
                    }
                },
            },
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [RABBITMQ_TRIGGER, PROMETHEUS_TRIGGER]},
            },
        },
    },
)
TRIGGER_AUTHENTICATION = _resource(
    "keda.sh/v1alpha1",
    "TriggerAuthentication",
    {
        "type": "object",
        "required": ["secretTargetRef"],
        "additionalProperties": False,
        "properties": {
            "secretTargetRef": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["parameter", "name", "key"],
                    "additionalProperties": False,
                    "properties": {
                        "parameter": {"type": "string"},
                        "name": {"type": "string"},
                        "key": {"type": "string"},
                    },
                },
            }
        },
    },
)
SELECTOR = {
    "type": "object",
    "required": ["matchLabels"],
    "properties": {"matchLabels": {"type": "object", "minProperties": 1}},
}
ENDPOINT = {
    "type": "object",
    "required": ["port", "path"],
    "additionalProperties": False,
    "properties": {
        "port": {"type": "string"},
        "path": {"type": "string"},
        "interval": {"type": "string"},
        "params": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}
NAMESPACE_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"matchNames": {"type": "array", "items": {"type": "string"}}, "any": {"type": "boolean"}},
}


def _monitor(kind: str, endpoints: str) -> dict[str, Any]:
    spec = {
        "type": "object",
        "required": ["selector", endpoints],
        "additionalProperties": False,
        "properties": {
            "selector": SELECTOR,
            "namespaceSelector": NAMESPACE_SELECTOR,
            endpoints: {"type": "array", "minItems": 1, "items": ENDPOINT},
        },
    }
    return _resource("monitoring.coreos.com/v1", kind, spec)


SERVICE_MONITOR = _monitor("ServiceMonitor", "endpoints")
POD_MONITOR = _monitor("PodMonitor", "podMetricsEndpoints")

RULE = {
    "type": "object",
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string"},
        "record": {"type": "string"},
        "expr": {"type": ["string", "integer"]},
        "for": {"type": "string"},
        "labels": {"type": "object"},
        "annotations": {"type": "object"},
    },
}
PROMETHEUS_RULE = _resource(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    {
        "type": "object",
        "required": ["groups"],
        "additionalProperties": False,
        "properties": {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "rules"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": RULE}},
                },
            }
        },
    },
)
KNATIVE_SERVICE = _resource(
    "serving.knative.dev/v1",
    "Service",
    {
        "type": "object",
        "required": ["template"],
        "properties": {
            "template": {
                "type": "object",
                "required": ["metadata", "spec"],
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["containers"],
                        "properties": {"containers": {"type": "array", "minItems": 1, "maxItems": 1}},
                    }
                },
            }
        },
    },
)

CUSTOM = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
    ("serving.knative.dev/v1", "Service"): KNATIVE_SERVICE,
}
