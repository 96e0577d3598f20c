package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// DriftReport is one stored drift report. The store keeps Report as the
// drift service wrote it (Postgres normalises JSON whitespace and key
// order) and indexes the summary fields next to it.
type DriftReport struct {
	// ID is assigned by the store, increasing.
	ID int64 `json:"id"`
	// GeneratedAt is when the drift service computed the report.
	GeneratedAt time.Time `json:"generated_at"`
	// Score is the share of drifted features, 0..1.
	Score float64 `json:"score"`
	// DatasetDrift is whether the score reached the dataset-drift threshold.
	DatasetDrift bool `json:"dataset_drift"`
	// Report is the full report, a JSON object.
	Report json.RawMessage `json:"report"`
}

func validateReport(r DriftReport) error {
	switch {
	case r.GeneratedAt.IsZero():
		return fmt.Errorf("%w: generated_at is required", ErrInvalid)
	case math.IsNaN(r.Score) || r.Score < 0 || r.Score > 1:
		return fmt.Errorf("%w: score must be within 0..1, got %v", ErrInvalid, r.Score)
	}
	var obj map[string]any
	if err := json.Unmarshal(r.Report, &obj); err != nil || obj == nil {
		return fmt.Errorf("%w: report must be a JSON object", ErrInvalid)
	}
	return nil
}

// SaveDriftReport stores a report and returns its id.
func (s *Store) SaveDriftReport(ctx context.Context, r DriftReport) (int64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	if err := validateReport(r); err != nil {
		return 0, fmt.Errorf("save drift report: %w", err)
	}
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO drift_reports (generated_at, score, dataset_drift, report)
		VALUES ($1, $2, $3, $4) RETURNING id`,
		s.timeArg(r.GeneratedAt), r.Score, r.DatasetDrift, string(r.Report)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("save drift report: %w", err)
	}
	return id, nil
}

const reportCols = `id, generated_at, score, dataset_drift, report`

func scanReport(row scanner) (DriftReport, error) {
	var r DriftReport
	var body []byte
	if err := row.Scan(&r.ID, timeCol{&r.GeneratedAt}, &r.Score, &r.DatasetDrift, &body); err != nil {
		return r, err
	}
	r.Report = json.RawMessage(body)
	return r, nil
}

// LatestDriftReport returns the newest report (by generated_at, then id), or
// ErrNotFound when there is none.
func (s *Store) LatestDriftReport(ctx context.Context) (DriftReport, error) {
	if err := s.ready(ctx); err != nil {
		return DriftReport{}, err
	}
	r, err := scanReport(s.db.QueryRowContext(ctx, `SELECT `+reportCols+` FROM drift_reports
		ORDER BY generated_at DESC, id DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("latest drift report: %w", ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("latest drift report: %w", err)
	}
	return r, nil
}

// DriftHistory returns the newest reports generated at or after since, newest
// first, at most limit of them (limit must be positive).
func (s *Store) DriftHistory(ctx context.Context, since time.Time, limit int) ([]DriftReport, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("drift history: %w: limit must be positive, got %d", ErrInvalid, limit)
	}
	out, err := queryAll(ctx, s.db, scanReport, `SELECT `+reportCols+` FROM drift_reports WHERE generated_at >= $1
		ORDER BY generated_at DESC, id DESC LIMIT $2`, s.timeArg(since), limit)
	if err != nil {
		return nil, fmt.Errorf("drift history: %w", err)
	}
	return out, nil
}
