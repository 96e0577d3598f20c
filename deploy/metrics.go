// Package deploy holds what the operations files need in Go: the metrics contract of
// docs/metrics.md, read as data, and the check that a PromQL expression (a Grafana panel, a
// Prometheus rule) only names metrics, labels and label values that the contract lists. The tests
// of this module run each format's own tool or parser over the compose file, Dockerfiles,
// Prometheus and Grafana files, k6 script, Terraform and CI workflow.
package deploy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Metric is one row of the metrics contract.
type Metric struct {
	// Name is the metric family name, e.g. swipeflix_http_requests_total.
	Name string
	// Type is counter, gauge or histogram.
	Type string
	// Labels are the label names, in the contract's order.
	Labels []string
	// Values holds, for the labels whose values the contract enumerates, those values.
	Values map[string][]string
	// ExportedBy are the services that export the metric.
	ExportedBy []string
}

// Contract is the set of metrics the services export, by family name.
type Contract map[string]Metric

// ErrUnknownMetric is returned when an expression names a metric the contract does not list.
var ErrUnknownMetric = errors.New("metric not in the contract")

var (
	// A contract row: | `name` | type | labels | exported by |
	rowName = regexp.MustCompile("^`([a-zA-Z_:][a-zA-Z0-9_:]*)`$")
	// A label, optionally followed by its values in parentheses: `kind` (`a`, `b`)
	labelSpec = regexp.MustCompile("`([a-zA-Z_][a-zA-Z0-9_]*)`(?:\\s*\\(([^)]*)\\))?")
	ticked    = regexp.MustCompile("`([^`]*)`")
	services  = []string{"api", "ingest", "trainer", "drift"}
)

// ParseContract reads the metrics table of docs/metrics.md: every table row whose first cell is
// a backticked metric name. A malformed row is an error that names its line.
func ParseContract(r io.Reader) (Contract, error) {
	c := Contract{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		m := rowName.FindStringSubmatch(cells[0])
		if m == nil {
			continue // header, separator or prose table
		}
		if len(cells) != 4 {
			return nil, fmt.Errorf("metrics contract line %d: want 4 cells (metric, type, labels, exported by), got %d", line, len(cells))
		}
		metric, err := parseRow(m[1], cells[1:])
		if err != nil {
			return nil, fmt.Errorf("metrics contract line %d: %w", line, err)
		}
		if _, dup := c[metric.Name]; dup {
			return nil, fmt.Errorf("metrics contract line %d: %s listed twice", line, metric.Name)
		}
		c[metric.Name] = metric
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics contract: %w", err)
	}
	if len(c) == 0 {
		return nil, errors.New("metrics contract: no metric rows found")
	}
	return c, nil
}

func parseRow(name string, cells []string) (Metric, error) {
	m := Metric{Name: name, Values: map[string][]string{}}
	// "gauge (0/1)" and "gauge (1)" are gauges with a note.
	m.Type, _, _ = strings.Cut(cells[0], " ")
	switch m.Type {
	case "counter", "gauge", "histogram":
	default:
		return Metric{}, fmt.Errorf("%s: type %q is not counter, gauge or histogram", name, cells[0])
	}
	if m.Type == "counter" && !strings.HasSuffix(name, "_total") {
		return Metric{}, fmt.Errorf("%s: a counter's name must end in _total", name)
	}
	for _, spec := range labelSpec.FindAllStringSubmatch(cells[1], -1) {
		m.Labels = append(m.Labels, spec[1])
		for _, v := range ticked.FindAllStringSubmatch(spec[2], -1) {
			m.Values[spec[1]] = append(m.Values[spec[1]], v[1])
		}
	}
	for _, word := range strings.FieldsFunc(cells[2], func(r rune) bool { return r == ',' || r == ' ' || r == '(' }) {
		if slices.Contains(services, word) && !slices.Contains(m.ExportedBy, word) {
			m.ExportedBy = append(m.ExportedBy, word)
		}
	}
	if len(m.ExportedBy) == 0 {
		return Metric{}, fmt.Errorf("%s: exported by %q names no service (want some of %v)", name, cells[2], services)
	}
	return m, nil
}

// Family returns the contract metric behind a series name: the name itself, or for a
// histogram its _bucket, _sum and _count series.
func (c Contract) Family(series string) (Metric, bool) {
	if m, ok := c[series]; ok && m.Type != "histogram" {
		return m, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(series, suffix)
		if m, ok := c[base]; found && ok && m.Type == "histogram" {
			return m, true
		}
	}
	return Metric{}, false
}

// Selector is one vector selector of a PromQL expression.
type Selector struct {
	// Metric is the series name selected.
	Metric string
	// Matchers are the label matchers other than the name.
	Matchers []*labels.Matcher
}

// Selectors parses a PromQL expression and returns its vector selectors, in order.
func Selectors(expr string) ([]Selector, error) {
	root, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parse PromQL %q: %w", expr, err)
	}
	return selectorsOf(root), nil
}

func selectorsOf(n parser.Node) []Selector {
	var out []Selector
	parser.Inspect(n, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := Selector{Metric: vs.Name}
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				if s.Metric == "" && m.Type == labels.MatchEqual {
					s.Metric = m.Value
				}
				continue
			}
			s.Matchers = append(s.Matchers, m)
		}
		out = append(out, s)
		return nil
	})
	return out
}

// Check parses a PromQL expression and returns an error for each problem: a metric that is
// neither in the contract nor in known, a label the metric does not have, an enumerated label
// compared with a value the contract does not list, a service label naming a service that does
// not export the metric, and a grouping label none of the aggregated metrics has. known maps
// other series names (recording rules, Prometheus's own `up`) to their labels; nil labels means
// any label.
func (c Contract) Check(expr string, known map[string][]string) error {
	root, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return fmt.Errorf("parse PromQL %q: %w", expr, err)
	}
	var errs []error
	for _, s := range selectorsOf(root) {
		errs = append(errs, c.checkSelector(s, known)...)
	}
	parser.Inspect(root, func(node parser.Node, _ []parser.Node) error {
		if agg, ok := node.(*parser.AggregateExpr); ok && !agg.Without {
			errs = append(errs, c.checkGrouping(agg, known)...)
		}
		return nil
	})
	return errors.Join(errs...)
}

// labelsOf returns the labels a series may carry; any reports that every label is allowed.
func (c Contract) labelsOf(series string, known map[string][]string) (names []string, any, ok bool) {
	if m, found := c.Family(series); found {
		names = append(names, m.Labels...)
		if strings.HasSuffix(series, "_bucket") {
			names = append(names, "le")
		}
		// Prometheus adds these target labels to every scraped series.
		return append(names, "job", "instance"), false, true
	}
	if ls, found := known[series]; found {
		return ls, ls == nil, true
	}
	return nil, false, false
}

func (c Contract) checkSelector(s Selector, known map[string][]string) []error {
	if s.Metric == "" {
		return []error{fmt.Errorf("a selector without a metric name: %v", s.Matchers)}
	}
	allowed, any, ok := c.labelsOf(s.Metric, known)
	if !ok {
		return []error{fmt.Errorf("%s: %w (docs/metrics.md)", s.Metric, ErrUnknownMetric)}
	}
	if any {
		return nil
	}
	var errs []error
	m, inContract := c.Family(s.Metric)
	for _, matcher := range s.Matchers {
		if !slices.Contains(allowed, matcher.Name) {
			errs = append(errs, fmt.Errorf("%s: label %q is not one of %v", s.Metric, matcher.Name, allowed))
			continue
		}
		if !inContract || matcher.Type != labels.MatchEqual {
			continue
		}
		if values, listed := m.Values[matcher.Name]; listed && !slices.Contains(values, matcher.Value) {
			errs = append(errs, fmt.Errorf("%s: %s=%q is not one of %v", s.Metric, matcher.Name, matcher.Value, values))
		}
		if matcher.Name == "service" && !slices.Contains(m.ExportedBy, matcher.Value) {
			errs = append(errs, fmt.Errorf("%s: service %q does not export it (exported by %v)", s.Metric, matcher.Value, m.ExportedBy))
		}
	}
	return errs
}

func (c Contract) checkGrouping(agg *parser.AggregateExpr, known map[string][]string) []error {
	union := map[string]bool{}
	for _, s := range selectorsOf(agg.Expr) {
		ls, any, ok := c.labelsOf(s.Metric, known)
		if !ok || any {
			return nil // reported by checkSelector, or unknowable
		}
		for _, l := range ls {
			union[l] = true
		}
	}
	var errs []error
	for _, g := range agg.Grouping {
		if !union[g] {
			have := make([]string, 0, len(union))
			for l := range union {
				have = append(have, l)
			}
			sort.Strings(have)
			errs = append(errs, fmt.Errorf("%s by (%s): no aggregated metric has label %q (have %v)", agg.Op, strings.Join(agg.Grouping, ", "), g, have))
		}
	}
	return errs
}
