package api

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// An api that starts while `current` does not load (its snapshot says
// another version) serves the newest model of the registry's history that
// does, instead of 503, and says so in /health and swipeflix_model_fallback
// (issue 10, defect 4); a good current replaces it.
func TestFallsBackOnTheNewestGoodModel(t *testing.T) {
	h := newHarness(t)
	h.publish(t, 1, snapshotBytes(t, 1))
	h.publish(t, 2, snapshotBytes(t, 2))
	h.publish(t, 3, snapshotBytes(t, 7)) // the snapshot says 7: no reader may fold or serve it as 3
	h.start(t)
	h.waitServing(t, 2)
	if got := testutil.ToFloat64(h.s.metrics.fallback); got != 1 {
		t.Errorf("swipeflix_model_fallback = %v, want 1", got)
	}
	var health map[string]any
	if code := httpGetJSON(t, h.url+"/health", &health); code != http.StatusOK || health["model_fallback"] == nil {
		t.Errorf("/health %d %v: want the fallback explained", code, health)
	}
	if status, _ := h.predict(t, `{"user_id": "u1", "top_k": 5}`); status != http.StatusOK {
		t.Errorf("/predict while falling back: %d", status)
	}
	h.publish(t, 4, snapshotBytes(t, 4))
	h.waitServing(t, 4)
	if got := testutil.ToFloat64(h.s.metrics.fallback); got != 0 {
		t.Errorf("swipeflix_model_fallback = %v after a good model, want 0", got)
	}
	health = nil
	httpGetJSON(t, h.url+"/health", &health)
	if health["model_fallback"] != nil {
		t.Errorf("/health still reports a fallback: %v", health)
	}
}

// A model whose downloads kept failing is loaded again once deltas show
// the trainer folds into it: otherwise its deltas wait for ever and swipes
// never reach /predict (issue 10, defect 3).
func TestDeltasForAModelNotLoadedTriggerAResync(t *testing.T) {
	f := &flakyFetch{}
	h := newHarnessWith(t, func(b *modelbus.Bus) Source { f.Bus = b; return f })
	h.publish(t, 1, snapshotBytes(t, 1))
	h.start(t)
	h.waitServing(t, 1)
	f.failures.Store(maxLoadAttempts)
	h.publish(t, 2, snapshotBytes(t, 2))
	h.waitRefused(t, 1)
	if got := h.s.servingVersion(); got != 1 {
		t.Fatalf("serving %d after giving up on 2, want 1", got)
	}
	fold := testModel(t, 2)
	ud := fold.FoldUser("newbie", []recommend.Rated{{Movie: "R1", Value: 5}})
	payload, err := recommend.EncodeDelta(recommend.Delta{BaseVersion: 2, Seq: 1, Users: []recommend.UserDelta{ud}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "model 2 loaded after its deltas", func() bool {
		if err := h.bus.PublishDelta(ctxTimeout(t), 2, payload); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		return h.s.servingVersion() == 2
	})
}

// nanSnapshot returns a snapshot of version with one float set to NaN and
// a valid checksum: the bytes of a snapshot a broken fit could publish.
func nanSnapshot(t *testing.T, version int64) []byte {
	t.Helper()
	good := snapshotBytes(t, version)
	body := len(good) - sha256.Size
	nan := math.Float32bits(float32(math.NaN()))
	for at := body - 4; at > body/2; at-- {
		b := slices.Clone(good)
		binary.LittleEndian.PutUint32(b[at:], nan)
		sum := sha256.Sum256(b[:body])
		copy(b[body:], sum[:])
		if _, err := recommend.Decode(b); err != nil && strings.Contains(err.Error(), "not finite") {
			return b
		}
	}
	t.Fatal("no float found to set to NaN")
	return nil
}

// A snapshot full of NaNs is refused; the serving model stays (issue 10,
// defect 6: it was served, with scores null and a junk ranking).
func TestNaNSnapshotRefused(t *testing.T) {
	h := newHarness(t)
	h.publish(t, 1, snapshotBytes(t, 1))
	h.start(t)
	h.waitServing(t, 1)
	h.publish(t, 2, nanSnapshot(t, 2))
	h.waitRefused(t, 1)
	if got := h.s.servingVersion(); got != 1 {
		t.Errorf("serving %d after a NaN snapshot, want 1", got)
	}
}
