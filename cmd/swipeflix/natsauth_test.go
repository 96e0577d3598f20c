package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// natsUsers are the users of deploy/nats/nats.conf.
var natsUsers = []string{"trainer", "api", "drift", "ops"}

// startProdNATS runs a NATS server on deploy/nats/nats.conf (the compose and
// Terraform stacks' file), on a free port with its store in a temporary
// folder, and returns its host:port and each user's password.
func startProdNATS(t *testing.T) (hostport string, passwords map[string]string) {
	t.Helper()
	passwords = map[string]string{}
	for _, u := range natsUsers {
		passwords[u] = "pw-" + u + "-" + fmt.Sprint(time.Now().UnixNano()%1e6)
		t.Setenv("NATS_"+strings.ToUpper(u)+"_PASSWORD", passwords[u])
	}
	opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "deploy", "nats", "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	opts.StoreDir = t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return srv.Addr().String(), passwords
}

// natsURL is the URL of user on hostport, as a service's NATS_URL carries it.
func natsURL(hostport, user, password string) string {
	return (&url.URL{Scheme: "nats", User: url.UserPassword(user, password), Host: hostport}).String()
}

// permissionErrors connects as user and records the server's permission
// violations, which arrive asynchronously.
type permissionErrors struct {
	mu   sync.Mutex
	errs []string
}

func (p *permissionErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		p.mu.Lock()
		p.errs = append(p.errs, err.Error())
		p.mu.Unlock()
	}
}

func (p *permissionErrors) mentions(subject string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errs {
		if strings.Contains(e, subject) {
			return true
		}
	}
	return false
}

// The services run as the users of deploy/nats/nats.conf, each as its own
// process would: the trainer publishes models, the api loads them and keeps
// the deck's impressions, drift follows the model and may ask for a
// retrain. Each user is refused what it has no business doing: the api
// cannot ask for a retrain or overwrite the serving manifest, nobody gets in
// without a password (issue 10, defect 10).
func TestNATSPermissionsOfTheProdConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the trainer, the api and drift")
	}
	ctx := testCtx(t)
	hostport, pw := startProdNATS(t)
	k := embeddedtest.StartTestKafka(t)
	sample := t.TempDir()
	if err := dataset.Generate(dataset.SizedConfig(3000, 21)).WriteDir(sample, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	trainerAddr, apiAddr, driftAddr := listenAddr(t), listenAddr(t), listenAddr(t)
	for k, v := range map[string]string{
		"KAFKA_BROKERS": k.Addr(), "NATS_URL": "", "DATABASE_URL": "", "SWIPEFLIX_STARTER_RATINGS": "",
		"SWIPEFLIX_LOG_LEVEL": "warn", "SWIPEFLIX_TUNE": "false", "SWIPEFLIX_INGEST_TOKENS": "",
		"TRAINER_ADDR": trainerAddr, "API_ADDR": apiAddr, "DRIFT_ADDR": driftAddr,
	} {
		t.Setenv(k, v)
	}
	// One process per service, each with its own user and data folder.
	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	stderr := map[string]*embeddedtest.SyncBuffer{}
	for _, svc := range []string{"trainer", "api", "drift"} {
		args := []string{"-target", svc, "-data-dir", t.TempDir(), "-nats.url", natsURL(hostport, svc, pw[svc])}
		if svc == "trainer" {
			args = append(args, "-starter", sample)
		}
		out := &embeddedtest.SyncBuffer{}
		stderr[svc] = out
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := realMain(runCtx, args, nil, io.Discard, out); err != nil {
				t.Errorf("%s: %v\n%s", svc, err, out)
			}
		}()
	}
	t.Cleanup(func() { stop(); wg.Wait() })

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(addr, path string) int {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitUntil(ctx, t, "the api serving the trainer's model", func() bool { return get(apiAddr, "/ready") == http.StatusOK })
	waitUntil(ctx, t, "drift ready on the model", func() bool { return get(driftAddr, "/ready") == http.StatusOK })
	resp, err := client.Post("http://"+apiAddr+"/v1/deck", "application/json", strings.NewReader(`{"user_id":"1","size":5}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deck as user api: %d %s", resp.StatusCode, body)
	}
	for svc, out := range stderr {
		if s := out.String(); strings.Contains(strings.ToLower(s), "permissions violation") {
			t.Errorf("%s hit a permission violation:\n%q", svc, s)
		}
		if s := out.String(); strings.Contains(s, pw[svc]) {
			t.Errorf("%s logged its NATS password:\n%s", svc, s)
		}
	}

	// The api's user may not ask for a retrain nor write the registry.
	apiErrs := &permissionErrors{}
	apiConn, err := nats.Connect(natsURL(hostport, "api", pw["api"]), nats.ErrorHandler(apiErrs.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer apiConn.Close()
	req, _ := modelbus.RetrainRequest{Reason: "not mine to ask", Requester: "api"}.Encode()
	if err := apiConn.Publish(modelbus.SubjectRetrain, req); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "the api user's retrain refused", func() bool { return apiErrs.mentions(modelbus.SubjectRetrain) })
	js, err := jetstream.New(apiConn)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, modelbus.RegistryBucket)
	if err != nil {
		t.Fatalf("the api user cannot open the registry: %v", err)
	}
	if _, err := kv.Get(ctx, "current"); err != nil {
		t.Fatalf("the api user cannot read the serving manifest: %v", err)
	}
	putCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = kv.Put(putCtx, "current", []byte(`{"version":999}`))
	cancel()
	if err == nil {
		t.Fatal("the api user overwrote the serving manifest")
	}
	delCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = js.DeleteKeyValue(delCtx, modelbus.RegistryBucket)
	cancel()
	if err == nil {
		t.Fatal("the api user deleted the registry")
	}
	if _, err := kv.Get(ctx, "current"); err != nil {
		t.Fatalf("the registry after the api user's refused writes: %v", err)
	}

	// Drift's user may: the trainer receives its request.
	before := retrainRequests(t, client, trainerAddr)
	driftConn, err := nats.Connect(natsURL(hostport, "drift", pw["drift"]))
	if err != nil {
		t.Fatal(err)
	}
	defer driftConn.Close()
	req, _ = modelbus.RetrainRequest{Reason: "drift says so", Requester: "drift"}.Encode()
	if err := driftConn.Publish(modelbus.SubjectRetrain, req); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "the trainer receiving drift's request", func() bool {
		return retrainRequests(t, client, trainerAddr) == before+1
	})
	// The api's request, sent first, never arrived.
	time.Sleep(200 * time.Millisecond)
	if n := retrainRequests(t, client, trainerAddr); n != before+1 {
		t.Errorf("retrain requests at the trainer: %v, want %v (drift's only)", n, before+1)
	}

	// No password, a wrong one, or a service's password under another user: refused.
	for _, u := range []string{
		"nats://" + hostport,
		natsURL(hostport, "api", "wrong"),
		natsURL(hostport, "trainer", pw["api"]),
	} {
		if nc, err := nats.Connect(u, nats.NoReconnect()); err == nil {
			nc.Close()
			t.Errorf("connected to %s", modelbus.Redact(u))
		}
	}
}

// retrainRequests sums the trainer's swipeflix_trainer_retrain_requests_total.
func retrainRequests(t *testing.T, client *http.Client, addr string) float64 {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("trainer metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "swipeflix_trainer_retrain_requests_total{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}
