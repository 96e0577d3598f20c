package driftsvc

import (
	"context"
	"sync"

	"github.com/swipeflix/swipeflix/pkg/drift"
)

// ReportStore keeps the drift report history. The Postgres / embedded SQL
// store implements it (through an adapter); MemoryStore is the fallback.
type ReportStore interface {
	SaveDriftReport(ctx context.Context, r drift.Report) error
	// LatestDriftReport returns drift.ErrNoReport (wrapped) when there is
	// none yet.
	LatestDriftReport(ctx context.Context) (drift.Report, error)
}

// MemoryStore is a ReportStore that keeps the latest Keep reports in memory.
type MemoryStore struct {
	// Keep bounds the history (0 keeps 100).
	Keep int

	mu      sync.Mutex
	reports []drift.Report
}

var _ ReportStore = (*MemoryStore)(nil)

// SaveDriftReport appends r, dropping the oldest beyond Keep.
func (m *MemoryStore) SaveDriftReport(_ context.Context, r drift.Report) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := m.Keep
	if keep <= 0 {
		keep = 100
	}
	m.reports = append(m.reports, r)
	if len(m.reports) > keep {
		m.reports = append(m.reports[:0], m.reports[len(m.reports)-keep:]...)
	}
	return nil
}

// LatestDriftReport returns the last saved report.
func (m *MemoryStore) LatestDriftReport(context.Context) (drift.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.reports) == 0 {
		return drift.Report{}, drift.ErrNoReport
	}
	return m.reports[len(m.reports)-1], nil
}

// Reports returns a copy of the kept history, oldest first.
func (m *MemoryStore) Reports() []drift.Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]drift.Report(nil), m.reports...)
}
