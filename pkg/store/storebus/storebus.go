// Package storebus converts between the registry's records (package store)
// and the manifests the model bus carries (package modelbus), so the
// trainer registers exactly what it published and a promotion or rollback
// in the registry republishes exactly what the registry holds.
package storebus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/store"
)

// Record is the candidate registry record of a published manifest.
func Record(m modelbus.Manifest) (store.ModelRecord, error) {
	r := store.ModelRecord{
		Version:      m.Version,
		CreatedAt:    m.CreatedAt,
		DatasetHash:  m.DatasetHash,
		KafkaOffsets: m.Offsets,
		ObjectName:   m.Object,
		SHA256:       m.SHA256,
		Size:         m.Size,
	}
	var err error
	if r.Parameters, err = objectJSON(m.Params); err != nil {
		return r, fmt.Errorf("record of manifest %d: params: %w", m.Version, err)
	}
	if r.Metrics, err = objectJSON(m.Metrics); err != nil {
		return r, fmt.Errorf("record of manifest %d: metrics: %w", m.Version, err)
	}
	return r, nil
}

func objectJSON[V any](m map[string]V) (json.RawMessage, error) {
	if m == nil {
		return json.RawMessage(`{}`), nil
	}
	return json.Marshal(m)
}

// Manifest is the bus manifest of a registry record. Parameters must be a
// JSON object of strings and metrics one of numbers, as Record writes them;
// anything else is an error naming the field.
func Manifest(r store.ModelRecord) (modelbus.Manifest, error) {
	m := modelbus.Manifest{
		Version:     r.Version,
		Object:      r.ObjectName,
		SHA256:      r.SHA256,
		Size:        r.Size,
		CreatedAt:   r.CreatedAt,
		Offsets:     r.KafkaOffsets,
		DatasetHash: r.DatasetHash,
	}
	if len(r.Parameters) > 0 {
		if err := json.Unmarshal(r.Parameters, &m.Params); err != nil {
			return m, fmt.Errorf("manifest of model %d: parameters are not a JSON object of strings: %w", r.Version, err)
		}
	}
	if len(r.Metrics) > 0 {
		if err := json.Unmarshal(r.Metrics, &m.Metrics); err != nil {
			return m, fmt.Errorf("manifest of model %d: metrics are not a JSON object of numbers: %w", r.Version, err)
		}
	}
	if len(m.Params) == 0 {
		m.Params = nil
	}
	if len(m.Metrics) == 0 {
		m.Metrics = nil
	}
	if len(m.Offsets) == 0 {
		m.Offsets = nil
	}
	if err := m.Validate(); err != nil {
		return m, fmt.Errorf("manifest of model %d: %w", r.Version, err)
	}
	return m, nil
}

// CurrentSetter is the part of *modelbus.Bus that SetCurrent needs.
type CurrentSetter interface {
	SetCurrent(ctx context.Context, m modelbus.Manifest) error
}

// SetCurrent returns a hook that makes a registry record the bus's current
// model: the admin handler calls it after a promotion or rollback, and
// every api replica hot-swaps to that snapshot.
func SetCurrent(bus CurrentSetter) func(context.Context, store.ModelRecord) error {
	return func(ctx context.Context, r store.ModelRecord) error {
		m, err := Manifest(r)
		if err != nil {
			return err
		}
		return bus.SetCurrent(ctx, m)
	}
}
