package modelbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// ErrVersionMismatch marks a snapshot whose own version is not its
// manifest's: deltas for the manifest's version would never apply to it.
var ErrVersionMismatch = errors.New("snapshot version does not match its manifest")

// Load fetches m's snapshot, checks it against the manifest (size and
// sha256), decodes it, and checks that it is the version m names and that
// it answers a query. The api and the trainer load every model through
// Load, so they accept and refuse the same manifests and never serve or
// fold into different versions.
func (b *Bus) Load(ctx context.Context, m Manifest) (*recommend.Model, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("load model %d: %w", m.Version, err)
	}
	data, err := b.Fetch(ctx, m)
	if err != nil {
		return nil, err
	}
	return Decode(m, data)
}

// Decode is Load's check of snapshot bytes already verified against m.
func Decode(m Manifest, data []byte) (*recommend.Model, error) {
	model, err := recommend.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode model %d: %w", m.Version, err)
	}
	if model.Version != m.Version {
		return nil, fmt.Errorf("decode model %d: %w: the snapshot says %d", m.Version, ErrVersionMismatch, model.Version)
	}
	if _, err := model.Recommend(recommend.Query{K: 1}); err != nil {
		return nil, fmt.Errorf("decode model %d: %w: warm-up query: %w", m.Version, recommend.ErrCorrupt, err)
	}
	return model, nil
}

// Permanent reports whether err, from Load, is about the snapshot or its
// manifest, so that loading it again cannot help (unlike a network error).
func Permanent(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, recommend.ErrCorrupt) ||
		errors.Is(err, ErrVersionMismatch) || errors.Is(err, ErrBadManifest)
}

// History returns the manifests the KV key `current` has held that are
// still in its history, newest first, each version once (its latest
// value). It is the registry's order of models that were serving.
func (b *Bus) History(ctx context.Context) ([]Manifest, error) {
	entries, err := b.kv.History(ctx, CurrentKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history of %s.%s: %w", RegistryBucket, CurrentKey, err)
	}
	var out []Manifest
	seen := map[int64]bool{}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var m Manifest
		if err := json.Unmarshal(e.Value(), &m); err != nil || m.Version <= 0 || seen[m.Version] {
			continue
		}
		seen[m.Version] = true
		out = append(out, m)
	}
	return out, nil
}

// Refused is one manifest LoadNewest passed over, and why.
type Refused struct {
	Manifest Manifest
	Err      error
}

// LoadNewest loads the newest model in History that loads, for a reader
// whose `current` is bad or gone: it falls back on the last good one. It
// returns the model, its manifest and the manifests it passed over. skip,
// when not nil, names versions not to try (those already refused).
func (b *Bus) LoadNewest(ctx context.Context, skip func(version int64) bool) (*recommend.Model, Manifest, []Refused, error) {
	hist, err := b.History(ctx)
	if err != nil {
		return nil, Manifest{}, nil, err
	}
	var refused []Refused
	for _, m := range hist {
		if skip != nil && skip(m.Version) {
			continue
		}
		model, err := b.Load(ctx, m)
		if err == nil {
			return model, m, refused, nil
		}
		if ctx.Err() != nil {
			return nil, Manifest{}, refused, ctx.Err()
		}
		refused = append(refused, Refused{m, err})
	}
	return nil, Manifest{}, refused, fmt.Errorf("%w: none of %d models in the registry's history loads", ErrNoModel, len(hist))
}
