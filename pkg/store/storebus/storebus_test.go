package storebus_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/storebus"
)

func TestRoundTrip(t *testing.T) {
	m := modelbus.Manifest{
		Version: 3, Object: "model-3", SHA256: strings.Repeat("0f", 32), Size: 123,
		CreatedAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		Metrics:   map[string]float64{"rmse": 0.91}, Offsets: map[int32]int64{0: 5, 3: 9},
		DatasetHash: "abc", Params: map[string]string{"factors": "32"},
	}
	r, err := storebus.Record(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 3 || r.ObjectName != "model-3" || r.Size != 123 || string(r.Metrics) != `{"rmse":0.91}` {
		t.Errorf("record %+v", r)
	}
	back, err := storebus.Manifest(r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip: %+v, want %+v", back, m)
	}
	// Empty maps stay absent.
	bare := modelbus.Manifest{Version: 1, Object: "o", SHA256: m.SHA256, CreatedAt: m.CreatedAt}
	r, err = storebus.Record(bare)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := storebus.Manifest(r); err != nil || !reflect.DeepEqual(back, bare) {
		t.Errorf("bare round trip: %+v, %v", back, err)
	}
}

func TestManifestRejectsForeignJSON(t *testing.T) {
	r := store.ModelRecord{Version: 1, ObjectName: "o", SHA256: strings.Repeat("0f", 32),
		Parameters: json.RawMessage(`{"factors": 32}`)}
	if _, err := storebus.Manifest(r); err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Errorf("numeric parameter: %v, want an error naming parameters", err)
	}
	r.Parameters, r.Metrics = nil, json.RawMessage(`{"rmse": "low"}`)
	if _, err := storebus.Manifest(r); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("string metric: %v, want an error naming metrics", err)
	}
}
