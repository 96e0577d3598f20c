package driftsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/store"
)

// DriftHistory is the part of the system-of-record store (pkg/store) that
// keeps drift reports; *store.Store implements it.
type DriftHistory interface {
	SaveDriftReport(ctx context.Context, r store.DriftReport) (int64, error)
	LatestDriftReport(ctx context.Context) (store.DriftReport, error)
}

// SQLReports adapts the system-of-record store (Postgres or the embedded
// SQL store) to ReportStore: the report is kept whole as JSON, with its
// time, score and dataset-drift flag in indexed columns.
type SQLReports struct {
	DB DriftHistory
}

var (
	_ ReportStore  = SQLReports{}
	_ DriftHistory = (*store.Store)(nil)
	_ MovieLister  = (*store.Store)(nil)
)

// SaveDriftReport stores r.
func (s SQLReports) SaveDriftReport(ctx context.Context, r drift.Report) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode drift report: %w", err)
	}
	_, err = s.DB.SaveDriftReport(ctx, store.DriftReport{
		GeneratedAt: r.Time, Score: r.Share, DatasetDrift: r.DatasetDrift, Report: body,
	})
	return err
}

// LatestDriftReport returns the newest stored report, or an error wrapping
// drift.ErrNoReport when there is none.
func (s SQLReports) LatestDriftReport(ctx context.Context) (drift.Report, error) {
	row, err := s.DB.LatestDriftReport(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return drift.Report{}, fmt.Errorf("%w: %w", drift.ErrNoReport, err)
	}
	if err != nil {
		return drift.Report{}, err
	}
	var r drift.Report
	if err := json.Unmarshal(row.Report, &r); err != nil {
		return drift.Report{}, fmt.Errorf("decode stored drift report %d: %w", row.ID, err)
	}
	return r, nil
}
