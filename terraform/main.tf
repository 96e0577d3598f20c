# The SwipeFlix stack on one Docker host: the same services, images, health checks and
# dependencies as the compose prod profile (docker-compose.yml).

locals {
  repo_root = abspath("${path.module}/..")

  # In-network addresses; the containers carry the compose service names as network aliases.
  kafka_brokers = "kafka:9092"
  database_url  = "postgres://swipeflix:${var.postgres_password}@postgres:5432/swipeflix?sslmode=disable"

  upstream_images = {
    kafka      = var.kafka_image
    nats       = var.nats_image
    postgres   = var.postgres_image
    prometheus = var.prometheus_image
    grafana    = var.grafana_image
  }

  # The images built from deploy/docker: one per service and the one binary (for migrate).
  built_images = toset(["api", "ingest", "trainer", "drift", "swipeflix"])

  services = {
    api     = { port = 8000, addr_var = "API_ADDR", external = var.api_port }
    ingest  = { port = 8001, addr_var = "INGEST_ADDR", external = var.ingest_port }
    trainer = { port = 8002, addr_var = "TRAINER_ADDR", external = 8002 }
    drift   = { port = 8003, addr_var = "DRIFT_ADDR", external = 8003 }
  }

  common_env = [
    "KAFKA_BROKERS=${local.kafka_brokers}",
    "SWIPEFLIX_DATA_DIR=/data",
    "SWIPEFLIX_LOG_LEVEL=${var.log_level}",
  ]

  # Per-service settings, each secret only where it is read; kept out of for_each because
  # they hold secrets.
  service_env = {
    api    = ["NATS_URL=nats://api:${var.nats_passwords.api}@nats:4222"]
    ingest = ["SWIPEFLIX_INGEST_TOKENS=${join(",", var.ingest_tokens)}"]
    trainer = [
      "NATS_URL=nats://trainer:${var.nats_passwords.trainer}@nats:4222",
      "DATABASE_URL=${local.database_url}", "SWIPEFLIX_ADMIN_TOKEN=${var.admin_token}", "SWIPEFLIX_REFIT_INTERVAL=${var.refit_interval}",
    ]
    drift = ["NATS_URL=nats://drift:${var.nats_passwords.drift}@nats:4222", "DATABASE_URL=${local.database_url}"]
  }

  volumes = toset(["kafka", "nats", "postgres", "api", "ingest", "trainer", "drift", "prometheus", "grafana"])
}

resource "docker_network" "swipeflix" {
  name = var.stack_name
}

resource "docker_volume" "data" {
  for_each = local.volumes
  name     = "${var.stack_name}-${each.key}-data"
}

resource "docker_image" "upstream" {
  for_each     = local.upstream_images
  name         = each.value
  keep_locally = true
}

resource "docker_image" "swipeflix" {
  for_each = local.built_images
  name     = each.key == "swipeflix" ? "ghcr.io/swipeflix/swipeflix:${var.swipeflix_version}" : "ghcr.io/swipeflix/swipeflix-${each.key}:${var.swipeflix_version}"

  build {
    context    = local.repo_root
    dockerfile = "deploy/docker/${each.key}.Dockerfile"
    build_args = {
      VERSION = var.swipeflix_version
    }
  }

  # Rebuild when the Dockerfile changes.
  triggers = {
    dockerfile = filesha256("${local.repo_root}/deploy/docker/${each.key}.Dockerfile")
  }
}

resource "docker_container" "kafka" {
  name     = "${var.stack_name}-kafka"
  image    = docker_image.upstream["kafka"].image_id
  hostname = "kafka"
  restart  = "unless-stopped"
  wait     = true

  env = [
    "KAFKA_NODE_ID=1",
    "KAFKA_PROCESS_ROLES=broker,controller",
    "KAFKA_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:29092",
    "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092,EXTERNAL://localhost:${var.kafka_external_port}",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
    "KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
    "KAFKA_CONTROLLER_QUORUM_VOTERS=1@kafka:9093",
    "KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
    "KAFKA_LOG_DIRS=/var/lib/kafka/data",
  ]

  ports {
    internal = 29092
    external = var.kafka_external_port
    ip       = var.bind_address
  }

  volumes {
    volume_name    = docker_volume.data["kafka"].name
    container_path = "/var/lib/kafka/data"
  }

  networks_advanced {
    name    = docker_network.swipeflix.name
    aliases = ["kafka"]
  }

  healthcheck {
    test         = ["CMD-SHELL", "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:9092 >/dev/null 2>&1"]
    interval     = "10s"
    timeout      = "10s"
    retries      = 10
    start_period = "30s"
  }
}

# One-shot: the topics with their partition counts (auto-creation is off).
resource "docker_container" "kafka_init" {
  name       = "${var.stack_name}-kafka-init"
  image      = docker_image.upstream["kafka"].image_id
  entrypoint = ["/bin/sh", "-c"]
  command = [join(" && ", [
    "/opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 --create --if-not-exists --topic swipeflix.ratings --partitions ${var.kafka_partitions} --replication-factor 1",
    "/opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 --create --if-not-exists --topic swipeflix.ratings.dlq --partitions 1 --replication-factor 1",
  ])]
  must_run = false
  attach   = true
  logs     = true

  networks_advanced {
    name = docker_network.swipeflix.name
  }

  depends_on = [docker_container.kafka]
}

resource "docker_container" "nats" {
  name  = "${var.stack_name}-nats"
  image = docker_image.upstream["nats"].image_id
  # JetStream in /data, monitoring on 8222, one user per service (deploy/nats/nats.conf).
  command = ["--config", "/etc/nats/nats.conf", "--name", "${var.stack_name}-nats"]
  env     = [for user, password in var.nats_passwords : "NATS_${upper(user)}_PASSWORD=${password}"]
  restart = "unless-stopped"
  wait    = true

  volumes {
    host_path      = "${local.repo_root}/deploy/nats/nats.conf"
    container_path = "/etc/nats/nats.conf"
    read_only      = true
  }

  ports {
    internal = 4222
    external = var.nats_port
    ip       = var.bind_address
  }

  volumes {
    volume_name    = docker_volume.data["nats"].name
    container_path = "/data"
  }

  networks_advanced {
    name    = docker_network.swipeflix.name
    aliases = ["nats"]
  }

  healthcheck {
    test     = ["CMD-SHELL", "wget -qO- 'http://127.0.0.1:8222/healthz?js-enabled-only=true' >/dev/null"]
    interval = "5s"
    timeout  = "3s"
    retries  = 10
  }
}

resource "docker_container" "postgres" {
  name    = "${var.stack_name}-postgres"
  image   = docker_image.upstream["postgres"].image_id
  restart = "unless-stopped"
  wait    = true

  env = [
    "POSTGRES_DB=swipeflix",
    "POSTGRES_USER=swipeflix",
    "POSTGRES_PASSWORD=${var.postgres_password}",
  ]

  volumes {
    volume_name    = docker_volume.data["postgres"].name
    container_path = "/var/lib/postgresql/data"
  }

  networks_advanced {
    name    = docker_network.swipeflix.name
    aliases = ["postgres"]
  }

  healthcheck {
    test     = ["CMD-SHELL", "pg_isready -U swipeflix -d swipeflix"]
    interval = "5s"
    timeout  = "3s"
    retries  = 10
  }
}

# One-shot: the registry, catalog and drift tables.
resource "docker_container" "migrate" {
  name     = "${var.stack_name}-migrate"
  image    = docker_image.swipeflix["swipeflix"].image_id
  command  = ["migrate"]
  env      = ["DATABASE_URL=${local.database_url}", "SWIPEFLIX_LOG_LEVEL=${var.log_level}"]
  must_run = false
  attach   = true
  logs     = true

  networks_advanced {
    name = docker_network.swipeflix.name
  }

  depends_on = [docker_container.postgres]
}

# One-shot: the movie catalog (titles, genres, tags) from var.catalog_dir into the database.
resource "docker_container" "catalog" {
  name     = "${var.stack_name}-catalog"
  image    = docker_image.swipeflix["swipeflix"].image_id
  command  = ["catalog", "load", "/catalog"]
  env      = ["DATABASE_URL=${local.database_url}", "SWIPEFLIX_LOG_LEVEL=${var.log_level}"]
  must_run = false
  attach   = true
  logs     = true

  volumes {
    host_path      = abspath(var.catalog_dir)
    container_path = "/catalog"
    read_only      = true
  }

  networks_advanced {
    name = docker_network.swipeflix.name
  }

  depends_on = [docker_container.migrate]
}

resource "docker_container" "service" {
  for_each = local.services

  name    = "${var.stack_name}-${each.key}"
  image   = docker_image.swipeflix[each.key].image_id
  restart = "unless-stopped"
  env     = concat(local.common_env, ["${each.value.addr_var}=:${each.value.port}"], local.service_env[each.key])

  ports {
    internal = each.value.port
    external = each.value.external
    ip       = var.bind_address
  }

  volumes {
    volume_name    = docker_volume.data[each.key].name
    container_path = "/data"
  }

  networks_advanced {
    name    = docker_network.swipeflix.name
    aliases = [each.key]
  }

  # Distroless images: the probe binary is the health check.
  healthcheck {
    test         = ["CMD", "/probe", "http://127.0.0.1:${each.value.port}/ready"]
    interval     = "10s"
    timeout      = "3s"
    retries      = 6
    start_period = each.key == "api" ? "120s" : "30s"
  }

  depends_on = [
    docker_container.kafka_init,
    docker_container.migrate,
    docker_container.catalog,
    docker_container.nats,
  ]
}

resource "docker_container" "prometheus" {
  name    = "${var.stack_name}-prometheus"
  image   = docker_image.upstream["prometheus"].image_id
  restart = "unless-stopped"
  command = [
    "--config.file=/etc/prometheus/prometheus.yml",
    "--storage.tsdb.path=/prometheus",
    "--web.enable-lifecycle",
  ]

  ports {
    internal = 9090
    external = var.prometheus_port
    ip       = var.bind_address
  }

  volumes {
    host_path      = "${local.repo_root}/deploy/prometheus"
    container_path = "/etc/prometheus"
    read_only      = true
  }

  volumes {
    volume_name    = docker_volume.data["prometheus"].name
    container_path = "/prometheus"
  }

  networks_advanced {
    name    = docker_network.swipeflix.name
    aliases = ["prometheus"]
  }

  healthcheck {
    test     = ["CMD", "wget", "-qO-", "http://127.0.0.1:9090/-/ready"]
    interval = "10s"
    timeout  = "3s"
    retries  = 6
  }
}

resource "docker_container" "grafana" {
  name    = "${var.stack_name}-grafana"
  image   = docker_image.upstream["grafana"].image_id
  restart = "unless-stopped"

  env = [
    "GF_SECURITY_ADMIN_PASSWORD=${var.grafana_admin_password}",
    "GF_USERS_ALLOW_SIGN_UP=false",
    "GF_AUTH_ANONYMOUS_ENABLED=false",
    "GF_PATHS_PROVISIONING=/etc/grafana/provisioning",
    "POSTGRES_PASSWORD=${var.postgres_password}",
  ]

  ports {
    internal = 3000
    external = var.grafana_port
    ip       = var.bind_address
  }

  volumes {
    host_path      = "${local.repo_root}/deploy/grafana/provisioning"
    container_path = "/etc/grafana/provisioning"
    read_only      = true
  }

  volumes {
    host_path      = "${local.repo_root}/deploy/grafana/dashboards"
    container_path = "/var/lib/grafana/dashboards"
    read_only      = true
  }

  volumes {
    volume_name    = docker_volume.data["grafana"].name
    container_path = "/var/lib/grafana"
  }

  networks_advanced {
    name    = docker_network.swipeflix.name
    aliases = ["grafana"]
  }

  healthcheck {
    test     = ["CMD-SHELL", "wget -qO- http://127.0.0.1:3000/api/health | grep -q ok"]
    interval = "10s"
    timeout  = "3s"
    retries  = 6
  }

  depends_on = [docker_container.prometheus, docker_container.postgres]
}
