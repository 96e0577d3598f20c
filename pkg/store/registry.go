package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stage is where a model stands in its life cycle.
type Stage string

// The stages. A registered model starts as a candidate; Promote makes one
// model production and archives the one before; Rollback brings the previous
// production model back.
const (
	StageCandidate  Stage = "candidate"
	StageProduction Stage = "production"
	StageArchived   Stage = "archived"
)

// Valid reports whether st is one of the three stages.
func (st Stage) Valid() bool {
	return st == StageCandidate || st == StageProduction || st == StageArchived
}

// registryLockKey serialises stage changes on Postgres ("SWFXREGY").
const registryLockKey int64 = 0x5357465852454759

// ModelRecord is one model snapshot in the registry.
type ModelRecord struct {
	// Version identifies the snapshot; the trainer numbers them upwards.
	Version int64 `json:"version"`
	// CreatedAt is when the trainer built the snapshot.
	CreatedAt time.Time `json:"created_at"`
	// RegisteredAt is when the store first recorded it (set by the store).
	RegisteredAt time.Time `json:"registered_at"`
	// Parameters are the training parameters, a JSON object the trainer owns.
	Parameters json.RawMessage `json:"parameters"`
	// Metrics are the holdout metrics, a JSON object the trainer owns.
	Metrics json.RawMessage `json:"metrics"`
	// DatasetHash is the content hash of the training data.
	DatasetHash string `json:"dataset_hash"`
	// KafkaOffsets maps partition to the next offset not covered by the model.
	KafkaOffsets map[int32]int64 `json:"kafka_offsets"`
	// ObjectName is the snapshot's name in the NATS object store.
	ObjectName string `json:"object_name"`
	// SHA256 is the snapshot's checksum, 64 lower-case hex digits.
	SHA256 string `json:"sha256"`
	// Size is the snapshot's length in bytes.
	Size int64 `json:"size"`
	// Stage is candidate, production or archived.
	Stage Stage `json:"stage"`
	// PromotedBy, PromotedAt and Reason record the last promotion or
	// rollback that made this version production; empty if none did.
	PromotedBy string    `json:"promoted_by,omitempty"`
	PromotedAt time.Time `json:"promoted_at,omitzero"`
	Reason     string    `json:"reason,omitempty"`
}

// StageChange is one entry of a model's stage history.
type StageChange struct {
	Version int64     `json:"version"`
	From    Stage     `json:"from"`
	To      Stage     `json:"to"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

const modelCols = `version, created_at, registered_at, parameters, metrics, dataset_hash,
	kafka_offsets, object_name, sha256, size_bytes, stage, promoted_by, promoted_at, reason`

func validateRecord(r *ModelRecord) error {
	switch {
	case r.Version <= 0:
		return fmt.Errorf("%w: version must be positive, got %d", ErrInvalid, r.Version)
	case r.CreatedAt.IsZero():
		return fmt.Errorf("%w: created_at is required", ErrInvalid)
	case strings.TrimSpace(r.ObjectName) == "":
		return fmt.Errorf("%w: object_name is required", ErrInvalid)
	case r.Size < 0:
		return fmt.Errorf("%w: size must not be negative, got %d", ErrInvalid, r.Size)
	case r.Stage != "" && r.Stage != StageCandidate:
		return fmt.Errorf("%w: stage must be empty or %q at registration, got %q (use Promote)", ErrInvalid, StageCandidate, r.Stage)
	}
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != 32 || strings.ToLower(r.SHA256) != r.SHA256 {
		return fmt.Errorf("%w: sha256 must be 64 lower-case hex digits, got %q", ErrInvalid, r.SHA256)
	}
	for _, f := range []struct {
		name string
		v    *json.RawMessage
	}{{"parameters", &r.Parameters}, {"metrics", &r.Metrics}} {
		if len(bytes.TrimSpace(*f.v)) == 0 {
			*f.v = json.RawMessage(`{}`)
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(*f.v, &obj); err != nil || obj == nil {
			return fmt.Errorf("%w: %s must be a JSON object", ErrInvalid, f.name)
		}
	}
	for p, o := range r.KafkaOffsets {
		if p < 0 || o < 0 {
			return fmt.Errorf("%w: kafka_offsets[%d] = %d: partition and offset must not be negative", ErrInvalid, p, o)
		}
	}
	return nil
}

// Register records a new candidate model. Registering the same version again
// with the same object, checksum and size is a no-op (so a retried write is
// harmless); with different content it fails with ErrConflict.
func (s *Store) Register(ctx context.Context, r ModelRecord) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if err := validateRecord(&r); err != nil {
		return fmt.Errorf("register model %d: %w", r.Version, err)
	}
	offsets := r.KafkaOffsets
	if offsets == nil {
		offsets = map[int32]int64{}
	}
	offJSON, err := json.Marshal(offsets)
	if err != nil {
		return fmt.Errorf("register model %d: encode kafka_offsets: %w", r.Version, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO models (version, created_at, registered_at, parameters,
			metrics, dataset_hash, kafka_offsets, object_name, sha256, size_bytes, stage)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'candidate')
			ON CONFLICT (version) DO NOTHING`,
			r.Version, s.timeArg(r.CreatedAt), s.timeArg(s.now()), string(r.Parameters), string(r.Metrics),
			r.DatasetHash, string(offJSON), r.ObjectName, r.SHA256, r.Size)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return s.recordStage(ctx, tx, r.Version, "", StageCandidate, "register", "")
		}
		old, err := s.get(ctx, tx, r.Version)
		if err != nil {
			return err
		}
		if old.SHA256 != r.SHA256 || old.ObjectName != r.ObjectName || old.Size != r.Size {
			return fmt.Errorf("%w: already registered as %s (sha256 %s)", ErrConflict, old.ObjectName, old.SHA256)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("register model %d: %w", r.Version, err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type scanner interface{ Scan(dest ...any) error }

// queryAll runs a query on q and reads every row it returns with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanModel(row scanner) (ModelRecord, error) {
	var (
		r                    ModelRecord
		params, metrics, off []byte
		stage                string
	)
	err := row.Scan(&r.Version, timeCol{&r.CreatedAt}, timeCol{&r.RegisteredAt}, &params, &metrics,
		&r.DatasetHash, &off, &r.ObjectName, &r.SHA256, &r.Size, &stage, &r.PromotedBy,
		timeCol{&r.PromotedAt}, &r.Reason)
	if err != nil {
		return r, err
	}
	r.Stage = Stage(stage)
	r.Parameters = json.RawMessage(params)
	r.Metrics = json.RawMessage(metrics)
	var raw map[string]int64
	if err := json.Unmarshal(off, &raw); err != nil {
		return r, fmt.Errorf("decode kafka_offsets of model %d: %w", r.Version, err)
	}
	r.KafkaOffsets = make(map[int32]int64, len(raw))
	for k, v := range raw {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			return r, fmt.Errorf("decode kafka_offsets of model %d: partition %q: %w", r.Version, k, err)
		}
		r.KafkaOffsets[int32(p)] = v
	}
	return r, nil
}

func (s *Store) get(ctx context.Context, q querier, version int64) (ModelRecord, error) {
	r, err := scanModel(q.QueryRowContext(ctx, `SELECT `+modelCols+` FROM models WHERE version = $1`, version))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("model %d: %w", version, ErrNotFound)
	}
	return r, err
}

// Get returns one model by version.
func (s *Store) Get(ctx context.Context, version int64) (ModelRecord, error) {
	if err := s.ready(ctx); err != nil {
		return ModelRecord{}, err
	}
	r, err := s.get(ctx, s.db, version)
	if err != nil {
		return r, fmt.Errorf("get model: %w", err)
	}
	return r, nil
}

// Current returns the production model, or ErrNotFound when none is.
func (s *Store) Current(ctx context.Context) (ModelRecord, error) {
	if err := s.ready(ctx); err != nil {
		return ModelRecord{}, err
	}
	r, err := s.current(ctx, s.db)
	if err != nil {
		return r, fmt.Errorf("current model: %w", err)
	}
	return r, nil
}

func (s *Store) current(ctx context.Context, q querier) (ModelRecord, error) {
	r, err := scanModel(q.QueryRowContext(ctx, `SELECT `+modelCols+` FROM models WHERE stage = 'production'`))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("no production model: %w", ErrNotFound)
	}
	return r, err
}

// ListOptions filters List.
type ListOptions struct {
	// Stage keeps only models in this stage; empty keeps all.
	Stage Stage
	// Limit caps the result; 0 means no cap.
	Limit int
}

// List returns models newest first (by created_at, then version).
func (s *Store) List(ctx context.Context, opt ListOptions) ([]ModelRecord, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if opt.Stage != "" && !opt.Stage.Valid() {
		return nil, fmt.Errorf("list models: %w: stage %q is not candidate, production or archived", ErrInvalid, opt.Stage)
	}
	if opt.Limit < 0 {
		return nil, fmt.Errorf("list models: %w: limit must not be negative, got %d", ErrInvalid, opt.Limit)
	}
	q := `SELECT ` + modelCols + ` FROM models WHERE ($1 = '' OR stage = $1) ORDER BY created_at DESC, version DESC`
	args := []any{string(opt.Stage)}
	if opt.Limit > 0 {
		q += ` LIMIT $2`
		args = append(args, opt.Limit)
	}
	out, err := queryAll(ctx, s.db, scanModel, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return out, nil
}

// lockRegistry serialises stage changes across processes. On SQLite the
// transaction already holds the database's write lock (BEGIN IMMEDIATE).
func (s *Store) lockRegistry(ctx context.Context, tx *sql.Tx) error {
	if s.dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, registryLockKey); err != nil {
		return fmt.Errorf("lock registry: %w", err)
	}
	return nil
}

func (s *Store) recordStage(ctx context.Context, tx *sql.Tx, version int64, from, to Stage, actor, reason string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO model_stage_history (version, from_stage, to_stage, actor, reason, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, version, string(from), string(to), actor, reason, s.timeArg(s.now()))
	if err != nil {
		return fmt.Errorf("record stage change of model %d: %w", version, err)
	}
	return nil
}

// setStage moves a model to stage. For production it also records who did it
// and why and clears the rollback mark; for a rollback away from the model it
// sets the mark, so Rollback never returns to a version it left.
func (s *Store) setStage(ctx context.Context, tx *sql.Tx, r ModelRecord, to Stage, by, reason string, rolledBack bool) error {
	var err error
	now := s.now()
	switch {
	case to == StageProduction:
		_, err = tx.ExecContext(ctx, `UPDATE models SET stage = 'production', promoted_by = $2, promoted_at = $3,
			reason = $4, rolled_back_at = NULL WHERE version = $1`, r.Version, by, s.timeArg(now), reason)
	case rolledBack:
		_, err = tx.ExecContext(ctx, `UPDATE models SET stage = $2, rolled_back_at = $3 WHERE version = $1`,
			r.Version, string(to), s.timeArg(now))
	default:
		_, err = tx.ExecContext(ctx, `UPDATE models SET stage = $2 WHERE version = $1`, r.Version, string(to))
	}
	if err != nil {
		return fmt.Errorf("move model %d to %s: %w", r.Version, to, err)
	}
	return s.recordStage(ctx, tx, r.Version, r.Stage, to, by, reason)
}

// Promote makes version the production model and archives the previous one,
// in one transaction. Promoting the current production model changes
// nothing. by names who promoted it (a user, "trainer"); reason is free text.
func (s *Store) Promote(ctx context.Context, version int64, by, reason string) (ModelRecord, error) {
	if err := s.ready(ctx); err != nil {
		return ModelRecord{}, err
	}
	if strings.TrimSpace(by) == "" {
		return ModelRecord{}, fmt.Errorf("promote model %d: %w: by is required", version, ErrInvalid)
	}
	var out ModelRecord
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockRegistry(ctx, tx); err != nil {
			return err
		}
		target, err := s.get(ctx, tx, version)
		if err != nil {
			return err
		}
		if target.Stage == StageProduction {
			out = target
			return nil
		}
		if cur, err := s.current(ctx, tx); err == nil {
			if err := s.setStage(ctx, tx, cur, StageArchived, by, fmt.Sprintf("superseded by %d", version), false); err != nil {
				return err
			}
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := s.setStage(ctx, tx, target, StageProduction, by, reason, false); err != nil {
			return err
		}
		out, err = s.get(ctx, tx, version)
		return err
	})
	if err != nil {
		return ModelRecord{}, fmt.Errorf("promote model %d: %w", version, err)
	}
	return out, nil
}

// Rollback archives the production model and makes the model that was
// production before it production again, returning that model. Rollbacks
// walk back through the promotion history: a version left by a rollback is
// skipped until someone promotes it again. With no production model, or no
// earlier one to return to, it fails with ErrNotFound.
func (s *Store) Rollback(ctx context.Context, by, reason string) (ModelRecord, error) {
	if err := s.ready(ctx); err != nil {
		return ModelRecord{}, err
	}
	if strings.TrimSpace(by) == "" {
		return ModelRecord{}, fmt.Errorf("rollback: %w: by is required", ErrInvalid)
	}
	var out ModelRecord
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockRegistry(ctx, tx); err != nil {
			return err
		}
		cur, err := s.current(ctx, tx)
		if err != nil {
			return err
		}
		// The history's ids order the promotions even when the clock does not.
		var prev int64
		err = tx.QueryRowContext(ctx, `SELECT h.version FROM model_stage_history h
			JOIN models m ON m.version = h.version
			WHERE h.to_stage = 'production' AND m.stage = 'archived' AND m.rolled_back_at IS NULL
			ORDER BY h.id DESC LIMIT 1`).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no earlier production model than %d: %w", cur.Version, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("find previous production model: %w", err)
		}
		target, err := s.get(ctx, tx, prev)
		if err != nil {
			return err
		}
		if reason == "" {
			reason = fmt.Sprintf("rollback from %d", cur.Version)
		}
		if err := s.setStage(ctx, tx, cur, StageArchived, by, reason, true); err != nil {
			return err
		}
		if err := s.setStage(ctx, tx, target, StageProduction, by, reason, false); err != nil {
			return err
		}
		out, err = s.get(ctx, tx, prev)
		return err
	})
	if err != nil {
		return ModelRecord{}, fmt.Errorf("rollback: %w", err)
	}
	return out, nil
}

// StageHistory returns a model's stage changes, oldest first.
func (s *Store) StageHistory(ctx context.Context, version int64) ([]StageChange, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, s.db, func(row scanner) (StageChange, error) {
		var c StageChange
		var from, to string
		err := row.Scan(&c.Version, &from, &to, &c.Actor, &c.Reason, timeCol{&c.At})
		c.From, c.To = Stage(from), Stage(to)
		return c, err
	}, `SELECT version, from_stage, to_stage, actor, reason, at
		FROM model_stage_history WHERE version = $1 ORDER BY id`, version)
	if err != nil {
		return nil, fmt.Errorf("stage history of model %d: %w", version, err)
	}
	return out, nil
}
