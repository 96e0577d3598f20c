package recommend

import (
	"math"
	"runtime"
	"sort"
	"sync"
)

// Entry is one observed value at (Row, Col) of a sparse matrix.
type Entry struct {
	Row, Col int32
	Value    float32
}

// csr is a compressed sparse row matrix. Within a row, columns are sorted.
type csr struct {
	rows, cols int
	ptr        []int64
	idx        []int32
	val        []float32
}

// newCSR builds a rows x cols CSR matrix from entries. When an entry repeats
// (same row and column), the last one wins.
func newCSR(rows, cols int, entries []Entry) *csr {
	m := &csr{rows: rows, cols: cols, ptr: make([]int64, rows+1)}
	for _, e := range entries {
		m.ptr[e.Row+1]++
	}
	for r := 0; r < rows; r++ {
		m.ptr[r+1] += m.ptr[r]
	}
	n := m.ptr[rows]
	m.idx = make([]int32, n)
	m.val = make([]float32, n)
	next := make([]int64, rows)
	copy(next, m.ptr[:rows])
	for _, e := range entries {
		p := next[e.Row]
		m.idx[p], m.val[p] = e.Col, e.Value
		next[e.Row]++
	}
	// Sort each row by column and drop duplicates, keeping the last written.
	out := int64(0)
	for r := 0; r < rows; r++ {
		lo, hi := m.ptr[r], m.ptr[r+1]
		row := rowSorter{m.idx[lo:hi], m.val[lo:hi]}
		sort.Stable(row)
		m.ptr[r] = out
		for p := lo; p < hi; p++ {
			if p+1 < hi && m.idx[p+1] == m.idx[p] {
				continue
			}
			m.idx[out], m.val[out] = m.idx[p], m.val[p]
			out++
		}
	}
	m.ptr[rows] = out
	m.idx, m.val = m.idx[:out:out], m.val[:out:out]
	return m
}

type rowSorter struct {
	idx []int32
	val []float32
}

func (s rowSorter) Len() int           { return len(s.idx) }
func (s rowSorter) Less(i, j int) bool { return s.idx[i] < s.idx[j] }
func (s rowSorter) Swap(i, j int) {
	s.idx[i], s.idx[j] = s.idx[j], s.idx[i]
	s.val[i], s.val[j] = s.val[j], s.val[i]
}

func (m *csr) nnz() int { return len(m.idx) }

func (m *csr) row(r int) ([]int32, []float32) {
	lo, hi := m.ptr[r], m.ptr[r+1]
	return m.idx[lo:hi], m.val[lo:hi]
}

// transpose returns the cols x rows transpose.
func (m *csr) transpose() *csr {
	t := &csr{rows: m.cols, cols: m.rows, ptr: make([]int64, m.cols+1)}
	for _, c := range m.idx {
		t.ptr[c+1]++
	}
	for c := 0; c < m.cols; c++ {
		t.ptr[c+1] += t.ptr[c]
	}
	t.idx = make([]int32, len(m.idx))
	t.val = make([]float32, len(m.val))
	next := make([]int64, m.cols)
	copy(next, t.ptr[:m.cols])
	for r := 0; r < m.rows; r++ {
		idx, val := m.row(r)
		for k, c := range idx {
			p := next[c]
			t.idx[p], t.val[p] = int32(r), val[k]
			next[c]++
		}
	}
	return t
}

// parallelRows runs fn over [0, n) split into contiguous chunks, one per
// worker. Each index is handled by exactly one worker, so writes to
// per-index outputs need no locking and the result does not depend on
// scheduling.
func parallelRows(n, workers int, fn func(lo, hi int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// scaleCols returns a copy of m with column c multiplied by
// (number of entries in c)^-beta; mt is m transposed.
func (m *csr) scaleCols(mt *csr, beta float64) *csr {
	scale := make([]float32, m.cols)
	for c := 0; c < m.cols; c++ {
		if n := mt.ptr[c+1] - mt.ptr[c]; n > 0 {
			scale[c] = float32(math.Pow(float64(n), -beta))
		}
	}
	out := &csr{rows: m.rows, cols: m.cols, ptr: m.ptr, idx: m.idx, val: make([]float32, len(m.val))}
	for p, c := range m.idx {
		out.val[p] = m.val[p] * scale[c]
	}
	return out
}

// signal returns m without its zero entries (seen-only interactions), or m
// itself when it has none.
func (m *csr) signal() *csr {
	zeros := 0
	for _, v := range m.val {
		if v == 0 {
			zeros++
		}
	}
	if zeros == 0 {
		return m
	}
	out := &csr{rows: m.rows, cols: m.cols, ptr: make([]int64, m.rows+1),
		idx: make([]int32, 0, len(m.idx)-zeros), val: make([]float32, 0, len(m.val)-zeros)}
	for r := 0; r < m.rows; r++ {
		idx, val := m.row(r)
		for p, c := range idx {
			if val[p] != 0 {
				out.idx = append(out.idx, c)
				out.val = append(out.val, val[p])
			}
		}
		out.ptr[r+1] = int64(len(out.idx))
	}
	return out
}

// clone returns a deep copy of m.
func (m *csr) clone() *csr {
	if m == nil {
		return nil
	}
	return &csr{rows: m.rows, cols: m.cols, ptr: append([]int64(nil), m.ptr...),
		idx: append([]int32(nil), m.idx...), val: append([]float32(nil), m.val...)}
}

// find returns the value at (r, c) of a matrix whose rows are sorted by
// column, and whether it is stored.
func (m *csr) find(r, c int32) (float32, bool) {
	if int(r) >= m.rows || r < 0 {
		return 0, false
	}
	idx, val := m.row(int(r))
	lo, hi := 0, len(idx)
	for lo < hi {
		h := (lo + hi) / 2
		if idx[h] < c {
			lo = h + 1
		} else {
			hi = h
		}
	}
	if lo < len(idx) && idx[lo] == c {
		return val[lo], true
	}
	return 0, false
}
