package recommend

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// MovieInfo is what the model knows of a movie besides its ratings.
type MovieInfo struct {
	ID       string
	Title    string
	Year     int
	Genres   []string
	Tags     []string
	Overview string
}

// contentModel holds L2-normalised TF-IDF vectors of every movie over its
// genres, tags, title words and overview words, as a sparse item x term
// matrix.
type contentModel struct {
	terms []string
	idf   []float32
	vecs  *csr
}

var stopwords = map[string]bool{
	"the": true, "and": true, "of": true, "a": true, "an": true, "in": true, "to": true, "on": true,
	"for": true, "with": true, "la": true, "le": true, "les": true, "de": true, "is": true, "at": true,
	"by": true, "from": true, "it": true, "its": true, "his": true, "her": true, "their": true,
}

// movieTokens returns the weighted terms of one movie. Genres are kept whole
// and prefixed so that "Drama" the genre and "drama" the title word differ.
func movieTokens(m MovieInfo) map[string]float64 {
	tf := map[string]float64{}
	for _, g := range m.Genres {
		tf["g:"+strings.ToLower(g)] += 1
	}
	for _, t := range m.Tags {
		for _, w := range words(t) {
			tf["t:"+w] += 1
		}
	}
	for _, w := range words(stripYear(m.Title)) {
		tf["w:"+w] += 1
	}
	for _, w := range words(m.Overview) {
		tf["w:"+w] += 0.5
	}
	return tf
}

func stripYear(title string) string {
	t := strings.TrimSpace(title)
	if n := len(t); n >= 6 && t[n-1] == ')' && t[n-6] == '(' {
		return strings.TrimSpace(t[:n-6])
	}
	return t
}

func words(s string) []string {
	fs := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := fs[:0]
	for _, w := range fs {
		if len(w) > 1 && !stopwords[w] {
			out = append(out, w)
		}
	}
	return out
}

// fitContent builds the TF-IDF vectors of movies (in item-index order) with
// smoothed idf = ln((1+N)/(1+df)) + 1 and sublinear tf = 1 + ln(tf).
func fitContent(movies []MovieInfo) *contentModel {
	docs := make([]map[string]float64, len(movies))
	df := map[string]int{}
	for i, m := range movies {
		docs[i] = movieTokens(m)
		for t := range docs[i] {
			df[t]++
		}
	}
	terms := make([]string, 0, len(df))
	for t := range df {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	pos := make(map[string]int32, len(terms))
	idf := make([]float32, len(terms))
	n := float64(len(movies))
	for i, t := range terms {
		pos[t] = int32(i)
		idf[i] = float32(math.Log((1+n)/(1+float64(df[t]))) + 1)
	}
	var es []Entry
	for i, doc := range docs {
		start := len(es)
		var norm float64
		for t, f := range doc {
			j := pos[t]
			w := (1 + math.Log(f)) * float64(idf[j])
			if f < 1 {
				w = f * float64(idf[j])
			}
			es = append(es, Entry{Row: int32(i), Col: j, Value: float32(w)})
			norm += w * w
		}
		if norm > 0 {
			inv := float32(1 / math.Sqrt(norm))
			for e := start; e < len(es); e++ {
				es[e].Value *= inv
			}
		}
	}
	return &contentModel{terms: terms, idf: idf, vecs: newCSR(len(movies), len(terms), es)}
}

// vector returns the TF-IDF vector of a movie that is not in the model (a
// movie folded in after the fit), with the model's vocabulary and idf.
func (c *contentModel) vector(m MovieInfo) ([]int32, []float32) {
	var idx []int32
	var val []float32
	var norm float64
	for t, f := range movieTokens(m) {
		j := sort.SearchStrings(c.terms, t)
		if j == len(c.terms) || c.terms[j] != t {
			continue
		}
		w := (1 + math.Log(f)) * float64(c.idf[j])
		if f < 1 {
			w = f * float64(c.idf[j])
		}
		idx = append(idx, int32(j))
		val = append(val, float32(w))
		norm += w * w
	}
	if norm > 0 {
		for i := range val {
			val[i] /= float32(math.Sqrt(norm))
		}
	}
	return idx, val
}
