output "api_url" {
  description = "The api (POST /predict, /docs)."
  value       = "http://${var.bind_address}:${var.api_port}"
}

output "ingest_url" {
  description = "ingest (rating and swipe events)."
  value       = "http://${var.bind_address}:${var.ingest_port}"
}

output "trainer_url" {
  description = "The trainer's admin and metrics endpoint."
  value       = "http://${var.bind_address}:${local.services.trainer.external}"
}

output "drift_url" {
  description = "The drift service (reports, metrics)."
  value       = "http://${var.bind_address}:${local.services.drift.external}"
}

output "grafana_url" {
  description = "Grafana, with the SwipeFlix dashboards provisioned."
  value       = "http://${var.bind_address}:${var.grafana_port}"
}

output "prometheus_url" {
  description = "Prometheus, with the SwipeFlix rules loaded."
  value       = "http://${var.bind_address}:${var.prometheus_port}"
}

output "kafka_bootstrap" {
  description = "Kafka bootstrap address for clients on the host (kcat, swipeflix publish)."
  value       = "localhost:${var.kafka_external_port}"
}

output "nats_url" {
  description = "NATS for clients on the host (swipeflix watch, nats sub swipeflix.model.updated); connect as user ops (nats://ops:PASSWORD@...)."
  value       = "nats://localhost:${var.nats_port}"
}

output "client_env" {
  description = "Environment for the swipeflix client commands on the host against this stack."
  value = {
    KAFKA_BROKERS = "localhost:${var.kafka_external_port}"
    NATS_URL      = "nats://ops:${var.nats_passwords.ops}@localhost:${var.nats_port}"
  }
  sensitive = true
}

output "database_url" {
  description = "Postgres connection string inside the stack's network (DATABASE_URL of trainer and drift)."
  value       = local.database_url
  sensitive   = true
}
