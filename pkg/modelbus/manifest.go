package modelbus

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Manifest describes one model snapshot: what the KV key `current` holds
// and what is published on swipeflix.model.updated.
type Manifest struct {
	// Version increases with every published snapshot.
	Version int64 `json:"version"`
	// Object is the snapshot's name in the SWIPEFLIX_MODELS object store.
	Object string `json:"object"`
	// SHA256 is the hex digest of the snapshot bytes.
	SHA256 string `json:"sha256"`
	// Size is the snapshot's length in bytes.
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	// Metrics are the holdout figures the quality gate looked at.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Offsets maps each partition of swipeflix.ratings to the next offset
	// the snapshot has not covered (everything below it is in the model).
	Offsets map[int32]int64 `json:"offsets,omitempty"`
	// DatasetHash identifies the starter dataset, when one was loaded.
	DatasetHash string            `json:"dataset_hash,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
}

// ParamPhase is the manifest parameter that says whether the trainer fitted
// the model in the middle of a load (PhaseLoad: the first model, a refit
// because the state grew, or one while catching up on a backlog) or in a
// steady state (PhaseSteady). A model from the middle of a load covers an
// arbitrary head of it: readers that compare against what a model was
// trained on (drift) wait for one that covers what they have seen.
const (
	ParamPhase  = "phase"
	PhaseLoad   = "load"
	PhaseSteady = "steady"
)

// DuringLoad reports whether the model was fitted in the middle of a load.
func (m Manifest) DuringLoad() bool { return m.Params[ParamPhase] == PhaseLoad }

// Covers reports whether the model covers every message below the given
// next offsets, per partition.
func (m Manifest) Covers(next map[int32]int64) bool {
	for p, n := range next {
		if m.Offsets[p] < n {
			return false
		}
	}
	return true
}

// ErrBadManifest is wrapped by DecodeManifest and Validate errors.
var ErrBadManifest = errors.New("bad manifest")

// MaxSnapshotBytes bounds a manifest's size: a reader allocates the
// snapshot's buffer from it before the first byte arrives.
const MaxSnapshotBytes = 16 << 30

// Validate checks the fields a reader relies on and names the first bad one.
func (m Manifest) Validate() error {
	switch {
	case m.Version <= 0:
		return fmt.Errorf("%w: version: must be positive, got %d", ErrBadManifest, m.Version)
	case m.Object == "":
		return fmt.Errorf("%w: object: required", ErrBadManifest)
	case m.Size < 0 || m.Size > MaxSnapshotBytes:
		return fmt.Errorf("%w: size: must be 0..%d bytes, got %d", ErrBadManifest, int64(MaxSnapshotBytes), m.Size)
	}
	if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != 32 {
		return fmt.Errorf("%w: sha256: want 64 hex digits, got %q", ErrBadManifest, m.SHA256)
	}
	return nil
}

// DecodeManifest parses and validates a manifest's JSON.
func DecodeManifest(data []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}
