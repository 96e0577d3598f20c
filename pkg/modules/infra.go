package modules

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/store"
)

// Config is the infrastructure's settings: where the brokers and the
// database are, or that they run embedded, and what every service shares.
type Config struct {
	// DataDir holds everything the process keeps on disk: the embedded
	// brokers' logs, the embedded store, the trainer's checkpoint.
	DataDir string
	// KafkaBrokers are external brokers; empty starts the embedded one on
	// KafkaPort (0: any free port) with KafkaPartitions partitions.
	KafkaBrokers    []string
	KafkaPort       int
	KafkaPartitions int
	// NATSURL is an external NATS server; empty starts the embedded one on
	// NATSPort (0: any free port).
	NATSURL  string
	NATSPort int
	// DatabaseURL selects PostgreSQL; empty, the embedded SQLite file in
	// DataDir.
	DatabaseURL string
	// CatalogDir is a MovieLens-format folder whose movies the catalog
	// module loads into the store at start; empty loads nothing.
	CatalogDir string
	// MaxClockSkew is how far ahead of the receiving clock an event time
	// may be, for every service that reads events.
	MaxClockSkew time.Duration
}

// DefaultConfig is the configuration of `make run`: everything embedded
// under ./var.
func DefaultConfig() Config {
	return Config{DataDir: "var", KafkaPort: embedded.DefaultKafkaPort, KafkaPartitions: 3,
		NATSPort: embedded.DefaultNATSPort, MaxClockSkew: events.DefaultMaxSkew}
}

// RegisterSettings declares the settings, each once with its flag and
// environment variable.
func (c *Config) RegisterSettings(s *envconfig.Settings) {
	s.String(&c.DataDir, "data-dir", "SWIPEFLIX_DATA_DIR", "directory of everything kept on disk")
	s.List(&c.KafkaBrokers, "kafka.brokers", "KAFKA_BROKERS", "external Kafka brokers (comma-separated); none starts the embedded broker")
	s.Int(&c.KafkaPort, "kafka.port", "SWIPEFLIX_KAFKA_PORT", "port of the embedded Kafka-protocol broker (0: any free port)")
	s.Int(&c.KafkaPartitions, "kafka.partitions", "SWIPEFLIX_KAFKA_PARTITIONS", "partitions of the embedded broker's ratings topic")
	s.String(&c.NATSURL, "nats.url", "NATS_URL", "external NATS server; none starts the embedded server")
	s.Int(&c.NATSPort, "nats.port", "SWIPEFLIX_NATS_PORT", "port of the embedded NATS server (0: any free port)")
	s.Secret(&c.DatabaseURL, "DATABASE_URL")
	s.String(&c.CatalogDir, "catalog", "SWIPEFLIX_CATALOG_DIR", "MovieLens-format folder whose movies are loaded into the catalog at start")
	s.Duration(&c.MaxClockSkew, "max-clock-skew", "SWIPEFLIX_MAX_CLOCK_SKEW", "how far ahead of the receiving clock an event time may be")
}

// Validate names every setting that is wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	p.Require("data dir (SWIPEFLIX_DATA_DIR)", c.DataDir)
	if c.KafkaPort < 0 || c.KafkaPort > 65535 {
		p.Add("kafka port (SWIPEFLIX_KAFKA_PORT)", "must be 0..65535, got %d", c.KafkaPort)
	}
	if c.NATSPort < 0 || c.NATSPort > 65535 {
		p.Add("nats port (SWIPEFLIX_NATS_PORT)", "must be 0..65535, got %d", c.NATSPort)
	}
	if c.KafkaPartitions < 1 || c.KafkaPartitions > 1000 {
		p.Add("kafka partitions (SWIPEFLIX_KAFKA_PARTITIONS)", "must be 1..1000, got %d", c.KafkaPartitions)
	}
	if c.MaxClockSkew < 0 {
		p.Add("max clock skew (SWIPEFLIX_MAX_CLOCK_SKEW)", "must be >= 0, got %s", c.MaxClockSkew)
	}
	return p.Err()
}

// instances are the infrastructure modules' shared instances.
type instances struct {
	kafka   *embedded.Kafka
	brokers []string
	natsSrv *embedded.NATS
	natsURL string
	bus     *modelbus.Bus
	store   *store.Store
	catalog *CatalogCache
}

// Brokers are the Kafka brokers, embedded or given (module kafka).
func (g *Graph) Brokers() []string { return g.brokers }

// EmbeddedKafka is the embedded broker, nil when external.
func (g *Graph) EmbeddedKafka() *embedded.Kafka { return g.kafka }

// NATSURL is the NATS server's URL, embedded or given (module nats).
func (g *Graph) NATSURL() string { return g.natsURL }

// EmbeddedNATS is the embedded server, nil when external.
func (g *Graph) EmbeddedNATS() *embedded.NATS { return g.natsSrv }

// Bus is the model bus on the process's one NATS connection (module bus).
func (g *Graph) Bus() *modelbus.Bus { return g.bus }

// Store is the registry, catalog and drift-history store (module store).
func (g *Graph) Store() *store.Store { return g.store }

// Catalog is the movie catalog (module catalog).
func (g *Graph) Catalog() *CatalogCache { return g.catalog }

func initKafka(ctx context.Context, g *Graph) (Service, error) {
	if len(g.cfg.KafkaBrokers) > 0 {
		g.brokers = g.cfg.KafkaBrokers
		return nil, nil
	}
	dir := filepath.Join(g.cfg.DataDir, "kafka")
	k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{DataDir: dir, Port: g.cfg.KafkaPort,
		Partitions: int32(g.cfg.KafkaPartitions), Logger: g.log})
	if err != nil {
		return nil, err
	}
	g.kafka, g.brokers = k, k.Brokers()
	g.OnClose(k.Close)
	fmt.Fprintf(g.out, "embedded kafka: %s%s (data in %s)\n", k.Addr(), fellBack(k.FellBack(), g.cfg.KafkaPort), dir)
	return nil, nil
}

func initNATS(_ context.Context, g *Graph) (Service, error) {
	if g.cfg.NATSURL != "" {
		g.natsURL = g.cfg.NATSURL
		return nil, nil
	}
	dir := filepath.Join(g.cfg.DataDir, "nats")
	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: dir, Port: g.cfg.NATSPort, Logger: g.log})
	if err != nil {
		return nil, err
	}
	g.natsSrv, g.natsURL = n, n.URL()
	g.OnClose(n.Close)
	fmt.Fprintf(g.out, "embedded nats:  %s%s (data in %s)\n", n.URL(), fellBack(n.FellBack(), g.cfg.NATSPort), dir)
	return nil, nil
}

func fellBack(did bool, port int) string {
	if did {
		return fmt.Sprintf(" (port %d was taken)", port)
	}
	return ""
}

func initBus(ctx context.Context, g *Graph) (Service, error) {
	b, err := modelbus.Connect(ctx, g.natsURL, g.log)
	if err != nil {
		return nil, err
	}
	g.bus = b
	g.OnClose(b.Close)
	return nil, nil
}

func initStore(ctx context.Context, g *Graph) (Service, error) {
	st, err := store.Open(ctx, store.Config{DatabaseURL: g.cfg.DatabaseURL,
		Path: filepath.Join(g.cfg.DataDir, store.EmbeddedFile), Logger: g.log, TolerateUnavailable: true})
	if err != nil {
		return nil, err
	}
	g.store = st
	g.OnClose(func() {
		if err := st.Close(); err != nil {
			g.log.Warn("close store", "err", err)
		}
	})
	return nil, nil
}

func initCatalog(ctx context.Context, g *Graph) (Service, error) {
	c := NewCatalogCache(g.store, g.log)
	if dir := g.cfg.CatalogDir; dir != "" {
		if err := c.LoadDir(ctx, dir); err != nil {
			return nil, err
		}
	} else if _, err := c.Refresh(ctx); err != nil && !errors.Is(err, context.Canceled) {
		g.log.Warn("catalog not read at start; retrying in the background", "err", err)
	}
	g.catalog = c
	return c, nil
}
