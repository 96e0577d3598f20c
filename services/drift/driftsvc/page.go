package driftsvc

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/swipeflix/swipeflix/pkg/drift"
)

// The HTML report is self-contained: inline CSS and one inline SVG bar
// chart per feature, no script and nothing fetched (the machines it runs on
// may be offline).

const (
	chartW, chartH = 640.0, 220.0
	padL, padB     = 44.0, 56.0
	padT, padR     = 10.0, 10.0
	maxNumericBins = 20
)

type page struct {
	Has      bool
	Report   drift.Report
	Status   status
	Features []featureView
}

type featureView struct {
	drift.FeatureResult
	ScoreLabel string
	Bars       []bar
	Ticks      []tick
	Labels     []axisLabel
	W, H       float64
	AxisY      float64
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type tick struct {
	Y     float64
	Label string
}

type axisLabel struct {
	X, Y  float64
	Text  string
	Slant bool
}

func buildPage(rep drift.Report, has bool, st status) page {
	p := page{Has: has, Report: rep, Status: st}
	for _, f := range rep.Features {
		p.Features = append(p.Features, viewFeature(f))
	}
	return p
}

func viewFeature(f drift.FeatureResult) featureView {
	v := featureView{FeatureResult: f, W: chartW, H: chartH, AxisY: chartH - padB}
	switch {
	case f.Skipped != "":
		v.ScoreLabel = "skipped"
	case f.PValue != nil:
		v.ScoreLabel = "p = " + strconv.FormatFloat(*f.PValue, 'g', 3, 64)
	default:
		v.ScoreLabel = "distance = " + strconv.FormatFloat(f.Score, 'f', 3, 64)
	}
	labels, ref, cur := histogram(f.Reference, f.Current)
	if len(labels) == 0 {
		return v
	}
	var top float64
	for i := range ref {
		top = math.Max(top, math.Max(ref[i], cur[i]))
	}
	if top == 0 {
		top = 1
	}
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	slot := plotW / float64(len(labels))
	bw := slot * 0.4
	for i, l := range labels {
		x := padL + float64(i)*slot + slot*0.1
		for k, share := range []float64{ref[i], cur[i]} {
			h := share / top * plotH
			class, who := "ref", "reference"
			if k == 1 {
				class, who = "cur", "current"
			}
			v.Bars = append(v.Bars, bar{X: x + float64(k)*bw, Y: padT + plotH - h, W: bw, H: h, Class: class,
				Title: fmt.Sprintf("%s %s: %.1f%%", l, who, share*100)})
		}
		v.Labels = append(v.Labels, axisLabel{X: padL + (float64(i)+0.5)*slot, Y: chartH - padB + 14,
			Text: shorten(l, 14), Slant: len(labels) > 8})
	}
	for _, frac := range []float64{0, 0.5, 1} {
		v.Ticks = append(v.Ticks, tick{Y: padT + plotH*(1-frac), Label: fmt.Sprintf("%.0f%%", top*frac*100)})
	}
	return v
}

// histogram turns both distributions into shares over common bins: the
// labels of a categorical feature, the values of a numeric one, or at most
// maxNumericBins equal-width bins when a numeric feature has more values.
func histogram(ref, cur drift.Distribution) (labels []string, rs, cs []float64) {
	nr, nc := ref.Total(), cur.Total()
	if ref.Kind == drift.Categorical {
		idx := map[string]int{}
		for _, d := range []drift.Distribution{ref, cur} {
			for _, l := range d.Labels {
				if _, ok := idx[l]; !ok {
					idx[l] = len(labels)
					labels = append(labels, l)
				}
			}
		}
		at := func(l string) int { return idx[l] }
		return labels, binShares(ref.Labels, ref.Counts, nr, len(labels), at), binShares(cur.Labels, cur.Counts, nc, len(labels), at)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	distinct := map[float64]bool{}
	for _, d := range []drift.Distribution{ref, cur} {
		for _, x := range d.Values {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
			distinct[x] = true
		}
	}
	if len(distinct) == 0 {
		return nil, nil, nil
	}
	if len(distinct) <= maxNumericBins {
		vals := make([]float64, 0, len(distinct))
		for x := range distinct {
			vals = append(vals, x)
		}
		sort.Float64s(vals)
		pos := map[float64]int{}
		for i, x := range vals {
			pos[x] = i
			labels = append(labels, strconv.FormatFloat(x, 'g', 4, 64))
		}
		at := func(x float64) int { return pos[x] }
		return labels, binShares(ref.Values, ref.Counts, nr, len(vals), at), binShares(cur.Values, cur.Counts, nc, len(vals), at)
	}
	width := (hi - lo) / maxNumericBins
	bin := func(x float64) int { return min(maxNumericBins-1, int((x-lo)/width)) }
	for i := range maxNumericBins {
		labels = append(labels, strconv.FormatFloat(lo+float64(i)*width, 'g', 3, 64)+"–")
	}
	return labels, binShares(ref.Values, ref.Counts, nr, maxNumericBins, bin), binShares(cur.Values, cur.Counts, nc, maxNumericBins, bin)
}

// binShares spreads the counts of keys over n bins (bin of each key), each
// as a share of total; all zero when total is.
func binShares[K any](keys []K, counts []float64, total float64, n int, bin func(K) int) []float64 {
	s := make([]float64, n)
	if total == 0 {
		return s
	}
	for i, k := range keys {
		s[bin(k)] += counts[i] / total
	}
	return s
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  func(x float64) string { return strconv.FormatFloat(x*100, 'f', 1, 64) + "%" },
	"f3":   func(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SwipeFlix drift report</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2330;background:#fafbfc}
h1{margin:0 0 .3rem}h2{margin:.2rem 0;font-size:1.1rem}
.summary{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:.8rem 1rem}
.big{font-size:1.6rem;font-weight:600}
.drift{color:#b42318}.ok{color:#067647}.muted{color:#667085}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #dde1e7;padding:.3rem .6rem;text-align:left}
.features{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:1rem;margin-top:1rem}
svg .ref{fill:#4e79a7}svg .cur{fill:#f28e2b}svg text{font-size:11px;fill:#344054}svg line{stroke:#98a2b3}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem;vertical-align:middle}
</style></head><body>
<h1>SwipeFlix drift report</h1>
{{if not .Has}}<p class="muted">No report yet: {{with .Status}}{{if .ReferenceReady}}the reference samples
{{.ReferenceEvents}} of {{.ReferencePopulation}} events{{if .ModelVersion}} model {{.ModelVersion}} was trained on{{end}}{{else if eq .Reference "model"}}waiting for
a serving model, whose training events make the reference{{else}}no event of the reference period yet{{end}};
the current window has {{.CurrentEvents}} of the {{.MinCurrent}} events a report needs.{{end}}</p>{{else}}
{{with .Report}}
<p class="muted">Made {{when .Time}}. Reference: {{.Reference.Events}} events sampled from {{.Reference.Population}}{{if .ModelVersion}}
that model {{.ModelVersion}} was trained on{{end}}, {{when .Reference.From}} to {{when .Reference.To}}.
Current: {{.Current.Events}} events, {{when .Current.From}} to {{when .Current.To}}.</p>
<div class="summary">
<div class="card"><div class="muted">drift score (share of drifted features)</div><div class="big {{if .DatasetDrift}}drift{{else}}ok{{end}}">{{pct .Share}}</div><div class="muted">{{.Drifted}} of {{.Evaluated}} features</div></div>
<div class="card"><div class="muted">dataset drift</div><div class="big {{if .DatasetDrift}}drift{{else}}ok{{end}}">{{if .DatasetDrift}}yes{{else}}no{{end}}</div></div>
<div class="card"><div class="muted">alert (score above 15%)</div><div class="big {{if eq .Alert "high"}}drift{{else}}ok{{end}}">{{.Alert}}</div></div>
</div>
<table><tr><th>feature</th><th>method</th><th>statistic</th><th>score</th><th>threshold</th><th>drifted</th></tr>
{{range .Features}}<tr><td>{{.Name}}</td><td>{{.Method}}</td><td>{{f3 .Statistic}}</td><td>{{f3 .Score}}</td><td>{{f3 .Threshold}}</td>
<td class="{{if .Drifted}}drift{{else}}ok{{end}}">{{if .Skipped}}skipped: {{.Skipped}}{{else if .Drifted}}yes{{else}}no{{end}}</td></tr>
{{end}}</table>
{{end}}
<p class="legend"><span style="background:#4e79a7"></span>reference<span style="background:#f28e2b"></span>current (share of observations)</p>
<div class="features">
{{range .Features}}<div class="card">
<h2>{{.Name}} <span class="{{if .Drifted}}drift{{else}}muted{{end}}">{{if .Drifted}}drifted{{else}}stable{{end}}</span></h2>
<div class="muted">{{.Kind}}, {{.Method}}, {{.ScoreLabel}}, threshold {{f3 .Threshold}}</div>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Name}}: reference against current">
{{range .Ticks}}<line x1="44" x2="630" y1="{{.Y}}" y2="{{.Y}}" stroke-dasharray="2,3"/><text x="40" y="{{.Y}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}{{range .Bars}}<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}{{$y := .AxisY}}<line x1="44" x2="630" y1="{{$y}}" y2="{{$y}}"/>
{{range .Labels}}{{if .Slant}}<text x="{{.X}}" y="{{.Y}}" text-anchor="end" transform="rotate(-35 {{.X}} {{.Y}})">{{.Text}}</text>{{else}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Text}}</text>{{end}}
{{end}}</svg></div>
{{end}}</div>{{end}}
</body></html>
`))
