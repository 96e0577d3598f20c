package main

import (
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// Counts in a manifest's metrics print as integers (a train of 100,836 ratings is not
// "1.008e+05"); fractions keep four significant digits.
func TestWatchPrintsCountsAsIntegers(t *testing.T) {
	m := modelbus.Manifest{Version: 3, Object: "model-3", CreatedAt: time.Unix(0, 0),
		Metrics: map[string]float64{"train_ratings": 100836, "users": 610, "ndcg@10": 0.312345, "zero": 0}}
	line := formatManifest(m)
	for _, want := range []string{"train_ratings=100836", "users=610", "ndcg@10=0.3123", "zero=0"} {
		if !strings.Contains(line, want) {
			t.Errorf("formatManifest = %q, missing %q", line, want)
		}
	}
	if strings.Contains(line, "e+") {
		t.Errorf("formatManifest = %q, prints a count in exponent form", line)
	}
}
