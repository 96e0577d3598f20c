variable "docker_host" {
  description = "Docker daemon to create the stack on."
  type        = string
  default     = "unix:///var/run/docker.sock"
}

variable "stack_name" {
  description = "Prefix of every container, volume and network name."
  type        = string
  default     = "swipeflix"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.stack_name))
    error_message = "stack_name must be lower-case letters, digits and dashes, starting with a letter (at most 31 characters)."
  }
}

variable "swipeflix_version" {
  description = "Version label and tag of the SwipeFlix images built from deploy/docker."
  type        = string
  default     = "dev"
}

variable "bind_address" {
  description = "Host address the published ports listen on; 127.0.0.1 keeps the stack local."
  type        = string
  default     = "127.0.0.1"
}

variable "kafka_image" {
  description = "Kafka image (KRaft mode, the official apache/kafka)."
  type        = string
  default     = "apache/kafka:4.1.0"
}

variable "nats_image" {
  description = "NATS server image; run with JetStream."
  type        = string
  default     = "nats:2.15.3-alpine"
}

variable "postgres_image" {
  description = "PostgreSQL image."
  type        = string
  default     = "postgres:17.6-alpine"
}

variable "prometheus_image" {
  description = "Prometheus image."
  type        = string
  default     = "prom/prometheus:v3.7.3"
}

variable "grafana_image" {
  description = "Grafana image."
  type        = string
  default     = "grafana/grafana:12.0.2"
}

variable "kafka_partitions" {
  description = "Partitions of the swipeflix.ratings topic."
  type        = number
  default     = 6

  validation {
    condition     = var.kafka_partitions >= 1 && var.kafka_partitions <= 256
    error_message = "kafka_partitions must be between 1 and 256."
  }
}

variable "refit_interval" {
  description = "SWIPEFLIX_REFIT_INTERVAL of the trainer (a Go duration, e.g. 10m)."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^([0-9]+(ns|us|ms|s|m|h))+$", var.refit_interval))
    error_message = "refit_interval must be a Go duration such as 30s, 10m or 1h30m."
  }
}

variable "log_level" {
  description = "SWIPEFLIX_LOG_LEVEL of the services."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be one of debug, info, warn, error."
  }
}

variable "api_port" {
  description = "Host port of the api."
  type        = number
  default     = 8000
}

variable "ingest_port" {
  description = "Host port of ingest."
  type        = number
  default     = 8001
}

variable "grafana_port" {
  description = "Host port of Grafana."
  type        = number
  default     = 3000
}

variable "prometheus_port" {
  description = "Host port of Prometheus."
  type        = number
  default     = 9090
}

variable "kafka_external_port" {
  description = "Host port of Kafka's external listener (for kcat or `swipeflix publish` on the host)."
  type        = number
  default     = 29092
}

# Secrets: no defaults, like the compose prod profile.

variable "postgres_password" {
  description = "Password of the swipeflix Postgres user (URL-safe: it goes into DATABASE_URL)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.postgres_password) >= 12 && can(regex("^[A-Za-z0-9._~-]+$", var.postgres_password))
    error_message = "postgres_password must be at least 12 URL-safe characters (letters, digits, . _ ~ -)."
  }
}

variable "grafana_admin_password" {
  description = "Password of Grafana's admin user."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.grafana_admin_password) >= 12
    error_message = "grafana_admin_password must be at least 12 characters."
  }
}

variable "ingest_tokens" {
  description = "Bearer tokens ingest accepts (SWIPEFLIX_INGEST_TOKENS)."
  type        = list(string)
  sensitive   = true

  validation {
    condition     = length(var.ingest_tokens) > 0 && alltrue([for t in var.ingest_tokens : length(t) >= 16 && !strcontains(t, ",")])
    error_message = "ingest_tokens needs at least one token, each at least 16 characters and without commas."
  }
}

variable "admin_token" {
  description = "Bearer token of the admin endpoints (SWIPEFLIX_ADMIN_TOKEN)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.admin_token) >= 16
    error_message = "admin_token must be at least 16 characters."
  }
}

variable "nats_passwords" {
  description = "NATS password of each user of deploy/nats/nats.conf: trainer, api and drift (one per service) and ops (people and tools: reads everything, may ask for a retrain). URL-safe: they go into NATS_URL."
  type = object({
    trainer = string
    api     = string
    drift   = string
    ops     = string
  })
  sensitive = true

  validation {
    condition     = alltrue([for p in values(var.nats_passwords) : length(p) >= 12 && can(regex("^[A-Za-z0-9._~-]+$", p))])
    error_message = "each of nats_passwords must be at least 12 URL-safe characters (letters, digits, . _ ~ -)."
  }
}

variable "catalog_dir" {
  description = "MovieLens-format folder (movies.csv or u.item, optionally tags.csv) the catalog job loads into the database."
  type        = string
}

variable "nats_port" {
  description = "Host port of NATS (for `swipeflix watch` or `nats sub` on the host)."
  type        = number
  default     = 4222
}
