package modelbus

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Retention says which snapshots the object store keeps: the serving one
// always, the last Rollback that served before it (what a rollback may
// need), and the Extra newest others (candidates the gate refused, say).
// Anything else goes, and so does anything older than MaxAge except the
// serving one (MaxAge 0: no age limit).
type Retention struct {
	Rollback int
	Extra    int
	MaxAge   time.Duration
}

// DefaultRetention keeps the serving snapshot, three earlier serving ones
// and two others, for at most 30 days.
func DefaultRetention() Retention {
	return Retention{Rollback: 3, Extra: 2, MaxAge: 30 * 24 * time.Hour}
}

// objectVersion parses a snapshot object's name (ObjectName's form).
func objectVersion(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, "model-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

// Prune deletes the snapshots r does not keep and returns their names.
// now is the clock the age limit is measured with.
func (b *Bus) Prune(ctx context.Context, r Retention, now time.Time) ([]string, error) {
	cur, err := b.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune snapshots: %w", err)
	}
	hist, err := b.History(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune snapshots: %w", err)
	}
	keep := map[string]bool{cur.Object: true}
	rollback := 0
	for _, m := range hist {
		if m.Object == cur.Object || rollback >= r.Rollback {
			continue
		}
		keep[m.Object] = true
		rollback++
	}
	infos, err := b.objs.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune snapshots: list %s: %w", ModelsBucket, err)
	}
	type obj struct {
		name    string
		version int64
		mod     time.Time
	}
	var others []obj
	for _, info := range infos {
		if v, ok := objectVersion(info.Name); ok && !keep[info.Name] {
			others = append(others, obj{info.Name, v, info.ModTime})
		}
	}
	slices.SortFunc(others, func(a, b obj) int { return int(b.version - a.version) })
	var drop []string
	for i, o := range others {
		if i >= r.Extra || (r.MaxAge > 0 && now.Sub(o.mod) > r.MaxAge) {
			drop = append(drop, o.name)
		}
	}
	if r.MaxAge > 0 {
		for _, info := range infos {
			if keep[info.Name] && info.Name != cur.Object && now.Sub(info.ModTime) > r.MaxAge {
				drop = append(drop, info.Name)
			}
		}
	}
	var deleted []string
	for _, name := range drop {
		if err := b.objs.Delete(ctx, name); err != nil {
			return deleted, fmt.Errorf("prune snapshots: delete %s: %w", name, err)
		}
		deleted = append(deleted, name)
	}
	return deleted, nil
}
