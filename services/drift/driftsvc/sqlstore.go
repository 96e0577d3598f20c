package driftsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/store"
)

// driftHistory is the part of the system-of-record store (pkg/store) that
// keeps drift reports.
type driftHistory interface {
	SaveDriftReport(ctx context.Context, r store.DriftReport) (int64, error)
	LatestDriftReport(ctx context.Context) (store.DriftReport, error)
}

// SQLReports adapts the system-of-record store (Postgres or the embedded
// SQL store) to ReportStore: the report is kept whole as JSON, with its
// time, score and dataset-drift flag in indexed columns.
type SQLReports struct {
	DB driftHistory
}

var (
	_ ReportStore  = SQLReports{}
	_ driftHistory = (*store.Store)(nil)
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

// movieLister pages through the catalog (pkg/store).
type movieLister interface {
	Movies(ctx context.Context, after string, limit int) ([]dataset.Movie, error)
}

// CatalogGenres reads every movie's genres from the catalog into a
// GenreMap. Movies added to the catalog later count as without genres
// until the service restarts.
func CatalogGenres(ctx context.Context, c movieLister) (GenreMap, error) {
	g := GenreMap{}
	after := ""
	for {
		page, err := c.Movies(ctx, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("catalog genres: %w", err)
		}
		for _, m := range page {
			g[m.ID] = m.Genres
		}
		if len(page) < 1000 {
			return g, nil
		}
		after = page[len(page)-1].ID
	}
}
